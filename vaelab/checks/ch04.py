"""Visible checks of chapter 4 (SSVAE): ``kl_cat``, the SSVAE's ``negative_elbo_bound`` and
``classification_loss``."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .engine import Case, CheckFailed, _g, _randn
from .graded import Check, run_check
from .objective import ObjectiveProbe, ratio_hint
from .probes import FixedLogits, seeded, sharpen_classifier
from .pure import cases_check

__all__ = ["check_kl_cat", "check_ssvae_elbo", "check_classification_loss", "ssvae_probe"]


def kl_cat_from_logits(kl_cat: Callable) -> Callable:
    """``kl_cat`` as a function of the logits of q and log p, the form in which it is observed
    (gradients then flow through both q and log q, as in the SSVAE)."""

    def wrapped(logits, log_p):
        return kl_cat(logits.softmax(-1), logits.log_softmax(-1), log_p.detach())

    return wrapped


def kl_cat_cases() -> list[Case]:
    uniform = torch.full((1, 10), -math.log(10), dtype=torch.float32)
    confident = 120 * torch.sign(_randn(3, 10, seed=4))  # q underflows to exactly 0 for most classes
    return [
        Case(
            "q (4, 10) against the uniform prior log p = -log 10 of shape (1, 10)", (2 * _randn(4, 10, seed=1), uniform)
        ),
        Case(
            "q (5, 3) against a non-uniform prior (5, 3)",
            (_randn(5, 3, seed=2), torch.log_softmax(_randn(5, 3, seed=3), -1)),
        ),
        Case("a confident q (some probabilities are exactly 0) against the uniform prior", (confident, uniform)),
    ]


def kl_cat_check() -> Check:
    return cases_check(
        "04_ssvae/kl_cat",
        kl_cat_cases,
        "Small differences like this come from an epsilon added inside a log or to q.",
        wrap=kl_cat_from_logits,
    )


def check_kl_cat(kl_cat: Callable) -> None:
    """Visible check of ``kl_cat``: uniform and non-uniform priors, a confident classifier, gradients."""
    run_check(kl_cat_check(), kl_cat)


def loss_from_logits(classification_loss: Callable) -> Callable:
    """``classification_loss`` as a function of the classifier's logits and integer labels."""

    def wrapped(logits, labels):
        x = torch.zeros(logits.shape[0], 4, dtype=logits.dtype)
        return classification_loss(FixedLogits(logits), x, F.one_hot(labels, logits.shape[-1]).to(logits.dtype))

    return wrapped


def classification_cases() -> list[Case]:
    return [
        Case("logits (6, 10), one-hot labels", (2 * _randn(6, 10, seed=1), torch.tensor([0, 3, 9, 3, 5, 1]))),
        Case(
            "confident logits (±200: a softmax underflows to 0)",
            (200 * torch.sign(_randn(4, 10, seed=2)), torch.tensor([1, 2, 3, 4])),
        ),
    ]


def check_classification_loss(classification_loss: Callable) -> None:
    """Visible check of ``classification_loss``: the mean cross-entropy, stable for confident logits."""
    run_check(classification_check(), classification_loss)


def classification_check() -> Check:
    return cases_check(
        "04_ssvae/classification_loss",
        classification_cases,
        "Small differences like this come from an epsilon inside a log or a clamp of the probabilities.",
        wrap=loss_from_logits,
        otherwise="It is the mean over the batch of -log q(y|x) at each image's label, from the logits (log_softmax or "
        "cross_entropy): predictions made hard with argmax give neither this value nor a gradient.",
    )


def _ssvae_inputs():
    from ..models import SSVAE

    model = seeded(lambda: SSVAE(z_dim=3, y_dim=10, x_dim=20, hidden=16))
    sharpen_classifier(model)  # q(y|x) far from uniform: an unweighted sum over labels stands out
    x = torch.bernoulli(torch.full((24, 20), 0.3, dtype=torch.float32), generator=_g(2))
    return model, x


CONFIDENT = "a confident classifier (q(y|x) rounds to 0 for some labels)"


def confident_classifier(model):
    """A copy of ``model`` whose classifier's logits spread over ±150: most of q(y|x) underflows to exactly 0."""
    model = copy.deepcopy(model)
    last = [m for m in model.classifier.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.copy_(torch.linspace(-150.0, 150.0, last.bias.numel(), dtype=last.bias.dtype))
    return model


def _sum_of_terms(name, args, out) -> None:
    nelbo, kl_z, kl_y, rec = out
    if not torch.allclose(nelbo.detach().double(), (rec + kl_z + kl_y).detach().double(), rtol=1e-5, atol=1e-5):
        raise CheckFailed(
            f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl_z + kl_y ({(rec + kl_z + kl_y).item():.5g})."
        )


def ssvae_probe(n_calls: int = 30) -> ObjectiveProbe:
    """The SSVAE's bound: exact KL terms, the whole bound in the limit, its gradient, the mean of rec."""
    return ObjectiveProbe(
        name="negative_elbo_bound",
        outputs=("nelbo", "kl_z", "kl_y", "rec"),
        inputs=_ssvae_inputs,
        calls=lambda model, x: [((model, x), "the real variances"), ((confident_classifier(model), x), CONFIDENT)],
        exact=("kl_z", "kl_y"),
        limit_args=lambda model, x: (model, x),
        sampled=("rec",),
        n_calls=n_calls,
        consistency=_sum_of_terms,
    )


def _ssvae_hints(where, got, want) -> str:
    hint = ratio_hint(where, got, want, batch=24, last_dims={"rec": 20, "kl_y": 10})
    if not hint and where.split(" ")[0] in ("rec", "kl_z"):
        return (
            "Weight each label's terms by q(y|x), sum over all the labels for each image, then take the mean over "
            "the batch: not one sampled label, and not a product of batch means."
        )
    return hint


def check_ssvae_elbo(negative_elbo_bound: Callable) -> None:
    """Visible check of the SSVAE's ``negative_elbo_bound``."""
    run_check(ssvae_check(), negative_elbo_bound)


def ssvae_check() -> Check:
    return Check("04_ssvae/negative_elbo_bound", ssvae_probe(), _ssvae_hints)
