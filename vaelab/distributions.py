"""Reference math for the course: log-densities, divergences and sampling.

This module depends on nothing but PyTorch. Every function here is the reference answer for an
exercise of the grading contract, and the library, the trainer, the benchmarks and the autograder
all use it.

Conventions
-----------
* Variances, not log-variances: ``v > 0``.
* Every log-density and divergence sums over the last dimension and keeps the batch dimensions.
* Shapes use one alphabet: B batch, D data, Z latent, K components, S importance samples, Y classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "sample_gaussian",
    "log_normal",
    "kl_normal",
    "log_bernoulli_with_logits",
    "log_normal_mixture",
    "duplicate",
    "log_mean_exp",
    "kl_cat",
    "gaussian_parameters",
]

_LOG_2PI = math.log(2.0 * math.pi)


def sample_gaussian(m: torch.Tensor, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``z ~ N(m, diag(v))`` with the reparameterisation trick.

    ``z = m + sqrt(v) * eps`` with ``eps ~ N(0, I)``, so gradients flow to ``m`` and ``v``.

    Args:
        m: ``(..., Z)`` means.
        v: ``(..., Z)`` variances, ``v >= 0``; broadcastable to ``m``.
        generator: optional ``torch.Generator`` for a repeatable draw.

    Returns:
        ``z``: a sample with the broadcast shape of ``m`` and ``v``.
    """
    m, v = torch.broadcast_tensors(m, v)
    eps = torch.randn(m.shape, dtype=m.dtype, device=m.device, generator=generator)
    return m + v.sqrt() * eps


def log_normal(x: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Log-density of a Gaussian with diagonal covariance, summed over the last dimension.

    .. math:: \\log N(x; m, \\mathrm{diag}(v)) = -\\tfrac12 \\sum_i \\big(\\log 2\\pi + \\log v_i + (x_i - m_i)^2 / v_i\\big)

    Args:
        x, m, v: ``(..., Z)``, mutually broadcastable; ``v > 0``.

    Returns:
        ``(...)``: the broadcast batch shape (the last dimension is summed out).
    """
    return -0.5 * (_LOG_2PI + torch.log(v) + (x - m).pow(2) / v).sum(-1)


def kl_normal(qm: torch.Tensor, qv: torch.Tensor, pm: torch.Tensor, pv: torch.Tensor) -> torch.Tensor:
    """KL(N(qm, diag qv) || N(pm, diag pv)) in closed form, summed over the last dimension.

    .. math:: \\mathrm{KL} = \\tfrac12 \\sum_i \\big(\\log(pv_i / qv_i) + (qv_i + (qm_i - pm_i)^2) / pv_i - 1\\big)

    Args:
        qm, qv, pm, pv: ``(..., Z)``, mutually broadcastable; variances ``> 0``.

    Returns:
        ``(...)``: the broadcast batch shape.
    """
    element = torch.log(pv) - torch.log(qv) + (qv + (qm - pm).pow(2)) / pv - 1.0
    return 0.5 * element.sum(-1)


def log_bernoulli_with_logits(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Log-probability of ``x`` under independent Bernoullis with ``p = sigmoid(logits)``.

    .. math:: \\log p(x) = \\sum_i x_i \\log\\sigma(l_i) + (1 - x_i) \\log(1 - \\sigma(l_i))

    computed as ``-BCE_with_logits`` so that it is stable for any logit (no clamped sigmoid).

    Args:
        x: ``(..., D)`` values in ``[0, 1]``.
        logits: ``(..., D)``, broadcastable to ``x``.

    Returns:
        ``(...)``: summed over the last dimension.
    """
    x, logits = torch.broadcast_tensors(x, logits)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_normal_mixture(z: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Log-density of a uniform mixture of diagonal Gaussians.

    .. math:: \\log p(z) = \\log \\frac1K \\sum_k N(z; m_k, \\mathrm{diag}(v_k))

    evaluated with ``logsumexp`` so that components far from ``z`` do not underflow.

    Args:
        z: ``(B, Z)`` points.
        m: ``(1, K, Z)`` (or ``(B, K, Z)``) component means.
        v: ``(1, K, Z)`` (or ``(B, K, Z)``) component variances.

    Returns:
        ``(B,)``.
    """
    log_components = log_normal(z.unsqueeze(-2), m, v)  # (B, K)
    return torch.logsumexp(log_components, dim=-1) - math.log(log_components.shape[-1])


def duplicate(x: torch.Tensor, rep: int) -> torch.Tensor:
    """Stack ``rep`` copies of ``x`` along the batch dimension, repetition-major.

    The result is ``[x; x; ...; x]``: row ``r * B + b`` is ``x[b]``. Reshaping a tensor computed from
    it to ``(rep, B, ...)`` recovers the per-copy values.

    Args:
        x: ``(B, ...)``.
        rep: number of copies, ``>= 1``.

    Returns:
        ``(rep * B, ...)``.
    """
    if rep < 1:
        raise ValueError(f"duplicate: rep must be >= 1, got {rep}")
    return x.expand(rep, *x.shape).reshape(-1, *x.shape[1:])


def log_mean_exp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Stable ``log(mean(exp(x), dim))``: ``logsumexp(x, dim) - log(n)``.

    Args:
        x: any shape.
        dim: the dimension to average over (removed from the result).

    Returns:
        ``x``'s shape without ``dim``.
    """
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


def kl_cat(q: torch.Tensor, log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """KL between categorical distributions, summed over the last dimension.

    .. math:: \\mathrm{KL}(q \\| p) = \\sum_y q_y (\\log q_y - \\log p_y)

    Args:
        q: ``(..., Y)`` probabilities.
        log_q: ``(..., Y)`` their logarithms (passed separately for stability).
        log_p: ``(..., Y)`` log-probabilities of the prior, broadcastable.

    Returns:
        ``(...)``.
    """
    return (q * (log_q - log_p)).sum(-1)


def gaussian_parameters(h: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``h`` in two halves along ``dim``: a mean and a variance ``softplus(.) + 1e-8``.

    Args:
        h: ``(..., 2Z, ...)``.

    Returns:
        ``(m, v)``, each with ``Z`` along ``dim``.
    """
    m, h_v = torch.chunk(h, 2, dim=dim)
    return m, F.softplus(h_v) + 1e-8
