"""Reference answers of chapter 3 (IWAE): ``duplicate``, ``log_mean_exp`` and the negative
importance-weighted bound.

Instructor only (shipped in the handout only when chapter 3 is ``--solved``); chapter 1's
functions come from :func:`vaelab.chapters.load`.
"""

from __future__ import annotations

import math

import torch

from ..chapters import call_with_generator, load

__all__ = ["duplicate", "log_mean_exp", "negative_iwae_bound"]


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


def negative_iwae_bound(model, x: torch.Tensor, iw: int, generator: torch.Generator | None = None):
    """Negative importance-weighted bound with ``iw`` samples per image (Burda et al. 2015).

    .. math:: \\mathcal{L}_m(x) = \\mathbb{E}\\Big[\\log \\frac1m \\sum_{i=1}^m
              \\frac{p(x | z_i) p(z_i)}{q(z_i | x)}\\Big], \\quad z_i \\sim q(z|x)

    Works for any model with ``encode``, ``decode`` and ``log_prior`` (VAE and GMVAE).

    Args:
        model: the model.
        x: ``(B, D)``.
        iw: number of importance samples ``m >= 1``.

    Returns:
        ``(niwae, kl, rec)``: batch means; ``kl`` and ``rec`` are the single-sample ELBO terms averaged
        over the ``iw`` samples (``niwae <= rec + kl``).
    """
    sample_gaussian, log_normal, log_bernoulli_with_logits = load(
        "01_vae", "sample_gaussian", "log_normal", "log_bernoulli_with_logits"
    )
    qm, qv = model.encode(x)
    qm_s, qv_s, x_s = duplicate(qm, iw), duplicate(qv, iw), duplicate(x, iw)  # (S*B, .)
    z = call_with_generator(sample_gaussian, qm_s, qv_s, generator=generator)
    log_px_z = log_bernoulli_with_logits(x_s, model.decode(z))
    log_q = log_normal(z, qm_s, qv_s)
    log_p = model.log_prior(z)
    log_w = (log_px_z + log_p - log_q).reshape(iw, x.shape[0])  # (S, B)
    niwae = -log_mean_exp(log_w, dim=0).mean()
    kl = (log_q - log_p).mean()
    rec = -log_px_z.mean()
    return niwae, kl, rec
