"""Chapter 2 (GMVAE): the catalogue of known mistakes of ``log_normal_mixture``.

:func:`check_against_reference` compares an answer's output with each of these wrong
implementations, so that the message names the mistake; :mod:`vaelab.reference.checks.ch02`
re-exports :data:`MISTAKES` and :data:`NEAR_MISS_HINTS`. Only the reference helpers are used here.
"""

from __future__ import annotations

import math

import torch

from vaelab import reference as ref
from vaelab.checks.engine import Mistake

# --------------------------------------------------------------------------------------------------
# The catalogue of known mistakes of log_normal_mixture.
# --------------------------------------------------------------------------------------------------

#: This chapter's known mistakes by exercise name (merged with the others' in the package).
MISTAKES: dict[str, list[Mistake]] = {}
#: Hints appended to a "values differ" message when the error is small, by exercise name.
NEAR_MISS_HINTS: dict[str, str] = {}


def _components(z, m, v):
    """(B, K) log-densities of every point under every component."""
    return ref.log_normal(z.unsqueeze(-2), m, v)


def _log_k(m):
    return math.log(m.shape[-2])


def _naive(z, m, v):
    with torch.no_grad():  # the mistake's values only; torch warns about nothing here
        return torch.log(torch.exp(_components(z, m, v)).sum(-1)) - _log_k(m)


def _per_coordinate(z, m, v):  # logsumexp over K of each coordinate, then the sum over Z
    element = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (z.unsqueeze(-2) - m).pow(2) / v)  # (B, K, Z)
    return (torch.logsumexp(element, dim=-2) - _log_k(m)).sum(-1)


NEAR_MISS_HINTS.update(
    {
        "log_normal_mixture": (
            "Small differences like this come from an epsilon added inside a log or to the variances, or from an "
            "approximate log K."
        ),
    }
)

MISTAKES.update(
    {
        "log_normal_mixture": [
            Mistake(
                "log(sum(exp(.))) underflows to -inf (or overflows to +inf) when the components' log-densities are far "
                "from 0, as they are for a point far from every component: use torch.logsumexp, which subtracts the "
                "largest term before exponentiating.",
                _naive,
            ),
            Mistake(
                "the -log K is missing: the mixture weights are 1/K, so log p(z) = logsumexp_k log N(z; m_k, v_k) "
                "- log K.",
                lambda z, m, v: torch.logsumexp(_components(z, m, v), -1),
            ),
            Mistake(
                "log K is added instead of subtracted: the weights 1/K contribute log(1/K) = -log K.",
                lambda z, m, v: torch.logsumexp(_components(z, m, v), -1) + _log_k(m),
            ),
            Mistake(
                "the components' log-densities are averaged (a mean of logs) instead of combined with a log-sum-exp "
                "(the log of the mean density): use torch.logsumexp(., dim) - log K.",
                lambda z, m, v: _components(z, m, v).mean(-1),
            ),
            Mistake(
                "the components' log-densities are summed (a product of densities) instead of combined with a "
                "log-sum-exp: use torch.logsumexp(., dim) - log K.",
                lambda z, m, v: _components(z, m, v).sum(-1),
            ),
            Mistake(
                "the components' log-densities are summed (a product of densities) instead of combined with a "
                "log-sum-exp: use torch.logsumexp(., dim) - log K.",
                lambda z, m, v: _components(z, m, v).sum(-1) - _log_k(m),
            ),
            Mistake(
                "this keeps only the closest component (a max over components) instead of the log-sum-exp of all "
                "of them.",
                lambda z, m, v: _components(z, m, v).max(-1).values - _log_k(m),
            ),
            Mistake(
                "this keeps only the closest component (a max over components) instead of the log-sum-exp of all "
                "of them.",
                lambda z, m, v: _components(z, m, v).max(-1).values,
            ),
            Mistake(
                "the log-sum-exp runs over the batch dimension instead of the components: the (B, K) log-densities "
                "must "
                "be combined over K (the last dimension).",
                lambda z, m, v: torch.logsumexp(_components(z, m, v), 0) - _log_k(m),
            ),
            Mistake(
                "each latent coordinate is mixed separately (log-sum-exp over components first, sum over coordinates "
                "after): a component is one Z-dimensional Gaussian, so sum its log-density over the coordinates first "
                "(log_normal does), then combine the K components.",
                _per_coordinate,
            ),
            Mistake(
                "the sign is flipped: this is -log p(z).",
                lambda z, m, v: -ref.log_normal_mixture(z, m, v),
            ),
            Mistake(
                "v is treated as a standard deviation: in this course v is the variance.",
                lambda z, m, v: ref.log_normal_mixture(z, m, v.pow(2)),
            ),
            Mistake(
                "v is treated as a log-variance: in this course v is the variance (v > 0).",
                lambda z, m, v: ref.log_normal_mixture(z, m, v.exp()),
            ),
        ],
    }
)
