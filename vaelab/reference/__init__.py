"""The reference answers of every exercise, one module per chapter (instructor only).

``vaelab.reference.ch01`` ... ``ch05`` hold each chapter's answers under the exercise names of the
grading contract (``DESIGN.md``). This package is the single source of truth that the solution
notebooks, the autograder's hidden tests, the benchmarks and the expected values of the visible
checks use. A student handout ships none of it, except the modules of the chapters released with
``python -m autograder handout --solved``; code that builds on a chapter asks
:func:`vaelab.chapters.load`, never this package directly.

The flat names below (the chapter prefix where two chapters share an exercise name) are for the
instructor's tools.
"""

from .ch01 import kl_normal, log_bernoulli_with_logits, log_normal, sample_gaussian
from .ch01 import negative_elbo_bound as vae_negative_elbo_bound
from .ch02 import log_normal_mixture
from .ch02 import negative_elbo_bound as gmvae_negative_elbo_bound
from .ch03 import duplicate, log_mean_exp, negative_iwae_bound
from .ch04 import classification_loss as ssvae_classification_loss
from .ch04 import kl_cat
from .ch04 import negative_elbo_bound as ssvae_negative_elbo_bound
from .ch05 import negative_elbo_bound as fsvae_negative_elbo_bound
from .ch05 import sample_grid

__all__ = [
    "sample_gaussian",
    "log_normal",
    "kl_normal",
    "log_bernoulli_with_logits",
    "vae_negative_elbo_bound",
    "log_normal_mixture",
    "gmvae_negative_elbo_bound",
    "duplicate",
    "log_mean_exp",
    "negative_iwae_bound",
    "kl_cat",
    "ssvae_negative_elbo_bound",
    "ssvae_classification_loss",
    "fsvae_negative_elbo_bound",
    "sample_grid",
]
