"""Reference answers of chapter 1 (VAE): Gaussian sampling and densities, the Bernoulli
likelihood, and the VAE's negative ELBO.

Instructor only: the student handout ships this module only when chapter 1 is ``--solved``.
Conventions (``DESIGN.md``): variances, not log-variances; log-densities sum over the last
dimension; objectives return batch means. Shapes: B batch, D data, Z latent.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["sample_gaussian", "log_normal", "kl_normal", "log_bernoulli_with_logits", "negative_elbo_bound"]

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

    .. math:: \\log N(x; m, \\mathrm{diag}(v))
              = -\\tfrac12 \\sum_i \\big(\\log 2\\pi + \\log v_i + (x_i - m_i)^2 / v_i\\big)

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


def negative_elbo_bound(model, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None):
    """Negative ELBO of a VAE with an analytic KL, and its two terms.

    .. math:: \\mathrm{NELBO}(x) = \\underbrace{-\\mathbb{E}_{q(z|x)} \\log p(x|z)}_{\\mathrm{rec}}
              + \\beta \\, \\underbrace{\\mathrm{KL}(q(z|x) \\| p(z))}_{\\mathrm{kl}}

    with a single reparameterised sample for ``rec``.

    Args:
        model: a :class:`vaelab.models.VAE` (``encode``, ``decode``, ``prior``).
        x: ``(B, D)`` binary images.
        beta: weight of the KL term (β-VAE); ``beta = 1`` is the ELBO.

    Returns:
        ``(nelbo, kl, rec)``: scalars, means over the batch; ``nelbo = rec + beta * kl``.
    """
    qm, qv = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(qm, qv, generator=generator)
    logits = model.decode(z)
    rec = -log_bernoulli_with_logits(x, logits).mean()
    kl = kl_normal(qm, qv, pm, pv).mean()
    return rec + beta * kl, kl, rec
