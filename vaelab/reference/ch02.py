"""Reference answers of chapter 2 (GMVAE): the mixture log-density and the GMVAE's negative
ELBO with a single-sample Monte Carlo KL.

Instructor only (shipped in the handout only when chapter 2 is ``--solved``). The chapter-1
functions it builds on come from :func:`vaelab.chapters.load`: the reference in the instructor's
source, the student's own chapter 1 in a handout where chapter 1 is open.
"""

from __future__ import annotations

import math

import torch

from ..chapters import call_with_generator, load

__all__ = ["log_normal_mixture", "negative_elbo_bound"]


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
    log_normal = load("01_vae", "log_normal")
    log_components = log_normal(z.unsqueeze(-2), m, v)  # (B, K)
    return torch.logsumexp(log_components, dim=-1) - math.log(log_components.shape[-1])


def negative_elbo_bound(model, x: torch.Tensor, generator: torch.Generator | None = None):
    """Negative ELBO of a GMVAE, with a single-sample Monte Carlo estimate of the KL.

    ``KL(q(z|x) || p(z)) ~= log q(z|x) - log p(z)`` at ``z ~ q(z|x)``: unbiased, since its expectation
    under ``q`` is the KL, and needed because the KL to a mixture has no closed form.

    Args:
        model: a :class:`vaelab.models.GMVAE` (``log_prior`` evaluates the mixture).
        x: ``(B, D)``.

    Returns:
        ``(nelbo, kl, rec)``: scalars, batch means.
    """
    sample_gaussian, log_normal, log_bernoulli_with_logits = load(
        "01_vae", "sample_gaussian", "log_normal", "log_bernoulli_with_logits"
    )
    qm, qv = model.encode(x)
    z = call_with_generator(sample_gaussian, qm, qv, generator=generator)
    logits = model.decode(z)
    rec = -log_bernoulli_with_logits(x, logits).mean()
    kl = (log_normal(z, qm, qv) - model.log_prior(z)).mean()
    return rec + kl, kl, rec
