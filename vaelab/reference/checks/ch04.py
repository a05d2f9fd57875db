"""Chapter 4 (SSVAE): the known mistakes and the visible checks of its three exercises.

``check_*`` functions are what the notebook's check cells call; the hidden tests of
``autograder.hidden.ch04`` run the same checks on more inputs.

* ``kl_cat(q, log_q, log_p)`` is deterministic. Its inputs ``q`` and ``log_q`` describe one
  distribution, so every case builds both from one tensor of logits and compares values and the
  gradients with respect to those logits and to ``log_p``: an answer that uses ``q`` where another
  uses ``log_q.exp()`` (or ``torch.distributions``) passes, whichever input it differentiates.
* ``negative_elbo_bound(model, x)`` samples one ``z`` per (image, label) pair; it is checked exactly
  in a limit, statistically and by its gradients in :mod:`.ch04_elbo`, re-exported here.
* ``classification_loss(model, x, y)`` is deterministic: values and gradients with respect to the
  logits, on one-hot labels, with extreme logits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.probes import FixedLogits, sharpen_classifier  # noqa: F401

from . import (
    Case,
    CheckFailed,
    Mistake,
    _call,
    _g,
    _require_gradient,
    _scalar,
    check_against_reference,
)
from .ch04_elbo import TinySSVariance, check_ssvae_negative_elbo_bound, small_ssvae

__all__ = [
    "FixedLogits",
    "TinySSVariance",
    "check_classification_loss_cases",
    "check_classification_loss_model",
    "check_kl_cat_cases",
    "check_ssvae_negative_elbo_bound",
    "classification_case",
    "kl_cat_case",
    "sharpen_classifier",
    "small_ssvae",
]

# --------------------------------------------------------------------------------------------------
# kl_cat: cases are (logits of q, log_p); the answer receives q = softmax, log_q = log_softmax.
# --------------------------------------------------------------------------------------------------

#: This chapter's known mistakes by exercise name (merged with the others' in the package).
MISTAKES: dict[str, list[Mistake]] = {}
#: Hints appended to a "values differ" message when the error is small, by exercise name.
NEAR_MISS_HINTS: dict[str, str] = {}


def _q(logits):
    return logits.softmax(-1), logits.log_softmax(-1)


class _Prior:
    """Holds ``log p`` outside the comparison's gradient check: in the SSVAE the prior is fixed, and a
    normalised ``log p`` has no meaningful gradient (``torch.distributions`` renormalises it)."""

    def __init__(self, log_p):
        self.log_p = log_p

    def __repr__(self):
        return f"log_p{tuple(self.log_p.shape)}"


def _as_logits(kl_cat: Callable) -> Callable:
    """The answer as a function of (logits of q, prior), the form in which it is compared."""

    def wrapped(logits, prior):
        q, log_q = _q(logits)
        return kl_cat(q, log_q, prior.log_p.to(logits.dtype))

    return wrapped


def _ref_kl(logits, prior):
    q, log_q = _q(logits)
    return ref.kl_cat(q, log_q, prior.log_p.to(logits.dtype))


def _kl_mistake(formula):
    def impl(logits, prior):
        q, log_q = _q(logits)
        return formula(q, log_q, prior.log_p.to(logits.dtype))

    impl.exercise_form = formula  # kl_cat(q, log_q, log_p), for the visible checks' stored mistakes
    return impl


NEAR_MISS_HINTS.update(
    {
        "kl_cat": "Small differences like this come from an epsilon added inside a log or to q.",
        "classification_loss": (
            "Small differences like this come from an epsilon inside a log or a clamp of the probabilities."
        ),
    }
)

MISTAKES.update(
    {
        "kl_cat": [
            Mistake(
                "the absolute value of each term is taken: the terms q (log q - log p) may be negative, only their sum "
                "is >= 0; sum them as they are.",
                _kl_mistake(lambda q, log_q, log_p: (q * (log_q - log_p)).abs().sum(-1)),
            ),
            Mistake(
                "the arguments are swapped, so the direction is reversed: this is KL(p || q) = sum p (log p - log "
                "q), not "
                "KL(q || p) = sum q (log q - log p).",
                _kl_mistake(lambda q, log_q, log_p: (log_p.exp() * (log_p - log_q)).sum(-1)),
            ),
            Mistake(
                "the q weighting is missing: the KL is sum_y q_y (log q_y - log p_y), an expectation under q, not "
                "the plain "
                "sum of the log-ratios.",
                _kl_mistake(lambda q, log_q, log_p: (log_q - log_p).sum(-1)),
            ),
            Mistake(
                "the result is averaged over the classes (mean) instead of summed over the last dimension.",
                _kl_mistake(lambda q, log_q, log_p: (q * (log_q - log_p)).mean(-1)),
            ),
            Mistake(
                "the sign is flipped: the KL is sum q (log q - log p), which is never negative.",
                _kl_mistake(lambda q, log_q, log_p: (q * (log_p - log_q)).sum(-1)),
            ),
            Mistake(
                "the log p term is missing: this is minus the entropy of q, sum q log q; the KL subtracts log p "
                "inside the sum.",
                _kl_mistake(lambda q, log_q, log_p: (q * log_q).sum(-1)),
            ),
            Mistake(
                "log p is used as if it were p: the KL is sum q (log q - log p), with the log-probabilities of the "
                "prior.",
                _kl_mistake(lambda q, log_q, log_p: (q * (log_q - log_p.exp())).sum(-1)),
            ),
            Mistake(
                "the result is summed over the batch too: keep the batch dimensions, sum over the last dimension only.",
                _kl_mistake(lambda q, log_q, log_p: (q * (log_q - log_p)).sum()),
            ),
            Mistake(
                "parentheses are missing: q * log_q - log_p weights only log q by q; the weight q multiplies the whole "
                "difference, q * (log_q - log_p).",
                _kl_mistake(lambda q, log_q, log_p: (q * log_q - log_p).sum(-1)),
            ),
            Mistake(
                "the prior is assumed uniform (log p = -log Y): use the log_p you are given, which is not always "
                "uniform.",
                _kl_mistake(lambda q, log_q, log_p: (q * (log_q + math.log(q.shape[-1]))).sum(-1)),
            ),
            *[
                Mistake(
                    "an epsilon is added inside the log (or q is clamped): use the log_q you are given, which is "
                    "exact even "
                    "where q rounds to 0.",
                    _kl_mistake(lambda q, log_q, log_p, eps=eps: (q * (torch.log(q + eps) - log_p)).sum(-1)),
                )
                for eps in (1e-12, 1e-10, 1e-8, 1e-6)
            ],
        ],
    }
)


def kl_cat_case(description, logits, log_p, grad=True) -> Case:
    """A case of ``kl_cat``: ``q = softmax(logits)``, ``log_q = log_softmax(logits)`` and the prior's ``log_p``."""
    return Case(description, (logits, _Prior(log_p)), grad)


def check_kl_cat_cases(kl_cat: Callable, cases) -> int:
    """Compare ``kl_cat`` with the reference on ``cases`` of (logits of q, log_p)."""
    return check_against_reference(_as_logits(kl_cat), "kl_cat", _ref_kl, cases, MISTAKES["kl_cat"])


def _log_uniform(*shape, dtype=torch.float32):
    return torch.full(shape, -math.log(shape[-1]), dtype=dtype)


# --------------------------------------------------------------------------------------------------
# classification_loss: cases are (logits, integer labels); the answer receives a model whose
# classify(x) returns the logits, and one-hot labels.
# --------------------------------------------------------------------------------------------------


def _ce_answer(classification_loss: Callable) -> Callable:
    def wrapped(logits, labels):
        x = torch.zeros(logits.shape[0], 4, dtype=logits.dtype)
        y = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
        return classification_loss(FixedLogits(logits), x, y)

    return wrapped


def _ref_ce(logits, labels):
    return F.cross_entropy(logits, labels)


MISTAKES.update(
    {
        "classification_loss": [
            Mistake(
                "label smoothing is added: the loss is the plain cross-entropy -mean log q(y|x) of the true label "
                "(no label_smoothing).",
                lambda logits, labels: F.cross_entropy(logits, labels, label_smoothing=0.1),
            ),
            Mistake(
                "the log-sum-exp normaliser of the softmax is missing: log q(y|x) = logits_y - logsumexp(logits), "
                "so use log_softmax (or F.cross_entropy), not the (shifted) logits themselves.",
                lambda logits, labels: (
                    -(logits - logits.max(-1, keepdim=True).values).gather(-1, labels[:, None]).mean()
                ),
            ),
            Mistake(
                "the sign is flipped: the loss is the cross-entropy -mean log q(y|x), a positive number to minimise.",
                lambda logits, labels: -F.cross_entropy(logits, labels),
            ),
            Mistake(
                "it is the sum over the batch: take the mean over the labelled examples.",
                lambda logits, labels: F.cross_entropy(logits, labels, reduction="sum"),
            ),
            Mistake(
                "the softmax is applied twice: model.classify returns logits, and F.cross_entropy applies log_softmax "
                "itself; do not pass it probabilities.",
                lambda logits, labels: F.cross_entropy(logits.softmax(-1), labels),
            ),
            Mistake(
                "the logits are used as log-probabilities (F.nll_loss on logits): normalise them with log_softmax "
                "first, "
                "or use F.cross_entropy.",
                lambda logits, labels: F.nll_loss(logits, labels),
            ),
            Mistake(
                "the loss is averaged over the classes too (a mean over B * Y numbers): sum over the classes, then "
                "average "
                "over the batch.",
                lambda logits, labels: F.cross_entropy(logits, labels) / logits.shape[-1],
            ),
            Mistake(
                "the cross-entropy is taken against q(y|x) of every class (a sum of log_softmax over all classes): "
                "select the log-probability of the true label, e.g. with the one-hot y.",
                lambda logits, labels: -logits.log_softmax(-1).sum(-1).mean(),
            ),
            Mistake(
                "this is a per-class binary cross-entropy (a sigmoid on each logit): q(y|x) is one categorical "
                "distribution over the classes, so use the softmax cross-entropy (F.cross_entropy, or log_softmax).",
                lambda logits, labels: F.binary_cross_entropy_with_logits(
                    logits, F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
                ),
            ),
            Mistake(
                "this is a per-class binary cross-entropy (a sigmoid on each logit), summed over the classes: q(y|x) "
                "is "
                "one categorical distribution over the classes, so use the softmax cross-entropy (F.cross_entropy).",
                lambda logits, labels: (
                    F.binary_cross_entropy_with_logits(
                        logits, F.one_hot(labels, logits.shape[-1]).to(logits.dtype), reduction="none"
                    )
                    .sum(-1)
                    .mean()
                ),
            ),
            Mistake(
                "the logits are normalised over the batch dimension (log_softmax with dim=0): normalise over the "
                "classes, "
                "the last dimension (log_softmax(logits, dim=-1)).",
                lambda logits, labels: F.nll_loss(logits.log_softmax(0), labels),
            ),
        ],
    }
)


def classification_case(description, logits, labels, grad=True) -> Case:
    return Case(description, (logits, labels), grad)


def check_classification_loss_cases(classification_loss: Callable, cases) -> int:
    return check_against_reference(
        _ce_answer(classification_loss), "classification_loss", _ref_ce, cases, MISTAKES["classification_loss"]
    )


def check_classification_loss_model(classification_loss: Callable, model=None, batch: int = 12) -> int:
    """On a real SSVAE: the answer's value matches, and its gradient reaches the classifier only."""
    name = "classification_loss"
    if model is None:
        model = small_ssvae()
    dtype = next(model.parameters()).dtype
    x = torch.bernoulli(torch.full((batch, model.x_dim), 0.4, dtype=dtype), generator=_g(7))
    labels = torch.arange(batch) % model.y_dim
    y = F.one_hot(labels, model.y_dim).to(dtype)
    model.zero_grad(set_to_none=True)
    loss = _call(classification_loss, name, (model, x, y))
    if not _scalar(loss):
        got = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise CheckFailed(f"{name} must return a scalar (the mean over the batch); it returned {got}.")
    expected = objectives.ssvae_classification_loss(model, x, y)
    if not torch.isclose(loss.detach().double(), expected.detach().double(), rtol=1e-4, atol=1e-5):
        raise CheckFailed(
            f"{name}: {loss.item():.5g} on an SSVAE, expected {expected.item():.5g}. The loss is "
            "F.cross_entropy(model.classify(x), y.argmax(-1))."
        )
    if not loss.requires_grad:
        raise CheckFailed(f"{name}: the loss has no gradient; do not use .item(), .detach() or torch.no_grad().")
    loss.backward()
    _require_gradient(
        model.classifier, f"{name}: no gradient reaches the classifier; compute the loss from model.classify(x)."
    )
    model.zero_grad(set_to_none=True)
    return 1
