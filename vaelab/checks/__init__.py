"""The visible checks that the notebooks' check cells call, one per exercise.

Each ``check_<exercise>(fn)`` prints ✓ or raises :class:`CheckFailed` (an ``AssertionError``) with
a message that names the likely mistake. The checks observe the function on fixed inputs and
compare with the reference's observations (:mod:`vaelab.checks.observe`): computed live in the
instructor's source, read from ``expected.pt`` in a student handout. Stochastic exercises are
checked statistically or in a deterministic limit, so any valid use of the random number
generator passes.

:data:`VISIBLE` maps each exercise (``"chapter/function"``) to its check and, for the observed
exercises, to the probe whose expected observations a handout stores. Where the reference is
installed, every check first refuses an answer that runs its exercise's reference (as the grader does).

Each visible check runs its exercise's :class:`~vaelab.checks.graded.Check` (observe, then judge) in
one process; the grader runs the same Checks split between the kernel and its own process.
"""

from __future__ import annotations

from collections.abc import Callable

from .ch01 import (
    check_kl_normal,
    check_log_bernoulli_with_logits,
    check_log_normal,
    check_negative_elbo_bound,
    check_sample_gaussian,
)
from .ch02 import check_gmvae_elbo, check_log_normal_mixture
from .ch03 import check_duplicate, check_log_mean_exp, check_negative_iwae_bound
from .ch04 import check_classification_loss, check_kl_cat, check_ssvae_elbo
from .ch05 import check_fsvae_elbo, check_fsvae_sample_grid
from .engine import CheckFailed
from .refuse import refusing

#: The visible check of every exercise, by ``"chapter/function"``.
VISIBLE: dict[str, Callable] = {
    "01_vae/sample_gaussian": check_sample_gaussian,
    "01_vae/log_normal": check_log_normal,
    "01_vae/kl_normal": check_kl_normal,
    "01_vae/log_bernoulli_with_logits": check_log_bernoulli_with_logits,
    "01_vae/negative_elbo_bound": check_negative_elbo_bound,
    "02_gmvae/log_normal_mixture": check_log_normal_mixture,
    "02_gmvae/negative_elbo_bound": check_gmvae_elbo,
    "03_iwae/duplicate": check_duplicate,
    "03_iwae/log_mean_exp": check_log_mean_exp,
    "03_iwae/negative_iwae_bound": check_negative_iwae_bound,
    "04_ssvae/kl_cat": check_kl_cat,
    "04_ssvae/negative_elbo_bound": check_ssvae_elbo,
    "04_ssvae/classification_loss": check_classification_loss,
    "05_fsvae/negative_elbo_bound": check_fsvae_elbo,
    "05_fsvae/sample_grid": check_fsvae_sample_grid,
}

# Every visible check refuses an answer that runs its exercise's reference, with the grader's words.
VISIBLE = {check_id: refusing(check_id, check) for check_id, check in VISIBLE.items()}
globals().update({check.__name__: check for check in VISIBLE.values()})

__all__ = ["CheckFailed", "VISIBLE", *(check.__name__ for check in VISIBLE.values())]


def probes() -> dict[str, Callable]:
    """The probe of every exercise checked against expected observations (``sample_gaussian`` and
    ``sample_grid`` are judged from their observation alone and need none)."""
    from .graded import CHECK_IDS, check

    checks = [check(check_id) for check_id in CHECK_IDS]
    return {chk.check_id: chk.observe for chk in checks if chk.verdict is None}
