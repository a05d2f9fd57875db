"""Reference objectives: the answers the trainer, benchmarks, autograder and solutions share.

Every objective returns per-batch **means** (sum over pixels, mean over examples): numbers in nats
per image that do not depend on the batch size and compare with the literature.

Each takes an optional ``generator`` so that an evaluation can be repeated exactly without touching
the global random state.
"""

from __future__ import annotations

import torch

from .distributions import (
    duplicate,
    kl_normal,
    log_bernoulli_with_logits,
    log_mean_exp,
    log_normal,
    sample_gaussian,
)


def vae_negative_elbo_bound(model, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None):
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


def gmvae_negative_elbo_bound(model, x: torch.Tensor, generator: torch.Generator | None = None):
    """Negative ELBO of a GMVAE, with a single-sample Monte Carlo estimate of the KL.

    ``KL(q(z|x) || p(z)) ~= log q(z|x) - log p(z)`` at ``z ~ q(z|x)``: unbiased, since its expectation
    under ``q`` is the KL, and needed because the KL to a mixture has no closed form.

    Args:
        model: a :class:`vaelab.models.GMVAE` (``log_prior`` evaluates the mixture).
        x: ``(B, D)``.

    Returns:
        ``(nelbo, kl, rec)``: scalars, batch means.
    """
    qm, qv = model.encode(x)
    z = sample_gaussian(qm, qv, generator=generator)
    logits = model.decode(z)
    rec = -log_bernoulli_with_logits(x, logits).mean()
    kl = (log_normal(z, qm, qv) - model.log_prior(z)).mean()
    return rec + kl, kl, rec


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
    qm, qv = model.encode(x)
    qm_s, qv_s, x_s = duplicate(qm, iw), duplicate(qv, iw), duplicate(x, iw)  # (S*B, .)
    z = sample_gaussian(qm_s, qv_s, generator=generator)
    log_px_z = log_bernoulli_with_logits(x_s, model.decode(z))
    log_q = log_normal(z, qm_s, qv_s)
    log_p = model.log_prior(z)
    log_w = (log_px_z + log_p - log_q).reshape(iw, x.shape[0])  # (S, B)
    niwae = -log_mean_exp(log_w, dim=0).mean()
    kl = (log_q - log_p).mean()
    rec = -log_px_z.mean()
    return niwae, kl, rec
