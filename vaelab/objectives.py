"""Reference objectives: the answers the trainer, benchmarks, autograder and solutions share.

Every objective returns per-batch **means** (sum over pixels, mean over examples): numbers in nats
per image that do not depend on the batch size and compare with the literature.

Each takes an optional ``generator`` so that an evaluation can be repeated exactly without touching
the global random state.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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


def ssvae_negative_elbo_bound(model, x: torch.Tensor, generator: torch.Generator | None = None):
    """Negative ELBO of the semi-supervised VAE on unlabelled images, with y summed out.

    For an unlabelled image the label is a latent variable with ``q(y|x)`` (the classifier) and a
    uniform prior ``p(y) = 1/Y``:

    .. math:: -\\mathrm{ELBO}(x) = \\sum_y q(y|x) \\big[-\\mathbb{E}_{q(z|x,y)} \\log p(x|z,y)
              + \\mathrm{KL}(q(z|x,y) \\| p(z))\\big] + \\mathrm{KL}(q(y|x) \\| p(y))

    The sum over ``y`` is exact: every image is paired with every one-hot label (``duplicate``
    makes the ``Y`` copies, repetition-major), one ``z`` is sampled per pair, and the per-label
    terms are weighted by ``q(y|x)``.

    Args:
        model: a :class:`vaelab.models.SSVAE` (``classify``, ``encode(x, y)``, ``decode(z, y)``, ``prior``).
        x: ``(B, D)`` binary images.

    Returns:
        ``(nelbo, kl_z, kl_y, rec)``: scalars, means over the batch; ``nelbo = rec + kl_z + kl_y``.
    """
    from .distributions import kl_cat

    y_dim, batch = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q_y, log_q_y = logits.softmax(-1), logits.log_softmax(-1)  # (B, Y)
    labels = torch.eye(y_dim, dtype=x.dtype, device=x.device).repeat_interleave(batch, dim=0)  # (Y*B, Y)
    x_rep = duplicate(x, y_dim)  # (Y*B, D): all of x for label 0, then for label 1, ...
    qm, qv = model.encode(x_rep, labels)
    pm, pv = model.prior()
    z = sample_gaussian(qm, qv, generator=generator)
    rec_y = -log_bernoulli_with_logits(x_rep, model.decode(z, labels)).reshape(y_dim, batch).T  # (B, Y)
    kl_z_y = kl_normal(qm, qv, pm, pv).reshape(y_dim, batch).T  # (B, Y)
    log_p_y = torch.full_like(log_q_y, -math.log(y_dim))
    kl_y = kl_cat(q_y, log_q_y, log_p_y).mean()
    rec = (q_y * rec_y).sum(-1).mean()
    kl_z = (q_y * kl_z_y).sum(-1).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec


def ssvae_classification_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``q(y|x)`` on labelled images.

    Args:
        model: an SSVAE (``classify``).
        x: ``(B, D)`` images.
        y: ``(B, Y)`` one-hot labels, or ``(B,)`` integer labels.

    Returns:
        A scalar: ``-mean_b log q(y_b | x_b)``.
    """
    target = y.argmax(-1) if y.dim() == 2 else y.long()
    return F.cross_entropy(model.classify(x), target)


def fsvae_negative_elbo_bound(model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
    """Negative ELBO of the fully supervised (conditional) VAE with a Gaussian likelihood.

    ``p(x|y,z) = N(x; mu(y, z), x_var I)`` with the fixed variance ``model.x_var = 0.1``, the
    normalising constant included; analytic KL to ``p(z) = N(0, I)``.

    Args:
        model: a :class:`vaelab.models.FSVAE` (``encode(x, y)``, ``decode(z, y) -> mean``, ``prior``, ``x_var``).
        x: ``(B, D)`` images with values in [0, 1].
        y: ``(B, Y)`` one-hot labels.

    Returns:
        ``(nelbo, kl, rec)``: scalars, batch means.
    """
    qm, qv = model.encode(x, y)
    pm, pv = model.prior()
    z = sample_gaussian(qm, qv, generator=generator)
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, torch.full_like(mean, model.x_var)).mean()
    kl = kl_normal(qm, qv, pm, pv).mean()
    return rec + kl, kl, rec


def sample_grid(model, n_styles: int = 20, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decoded means for every label (rows) and ``n_styles`` shared styles ``z`` (columns).

    Column ``j`` uses the same ``z_j ~ p(z)`` for every label, so a row shows one digit in every
    style and a column one style for every digit.

    Args:
        model: an FSVAE (``decode(z, y)``, ``z_dim``, ``y_dim``, ``image_shape``).
        n_styles: number of columns.
        generator: optional ``torch.Generator`` for the styles.

    Returns:
        ``(Y, n_styles, C, H, W)`` means clipped to [0, 1].
    """
    device = next(model.parameters()).device
    z = torch.randn(n_styles, model.z_dim, generator=generator, device=generator.device if generator else device).to(device)
    rows = []
    with torch.no_grad():
        for label in range(model.y_dim):
            y = F.one_hot(torch.full((n_styles,), label, device=device), model.y_dim).float()
            rows.append(model.decode(z, y))
    return torch.stack(rows).reshape(model.y_dim, n_styles, *model.image_shape).clip(0.0, 1.0)
