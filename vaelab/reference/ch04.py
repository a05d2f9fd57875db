"""Reference answers of chapter 4 (SSVAE): the categorical KL, the negative ELBO on unlabelled
images with the label summed out, and the classification loss.

Instructor only (shipped in the handout only when chapter 4 is ``--solved``); chapters 1 and 3's
functions come from :func:`vaelab.chapters.load`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..chapters import call_with_generator, load

__all__ = ["kl_cat", "negative_elbo_bound", "classification_loss"]


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


def negative_elbo_bound(model, x: torch.Tensor, generator: torch.Generator | None = None):
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
    sample_gaussian, kl_normal, log_bernoulli_with_logits = load(
        "01_vae", "sample_gaussian", "kl_normal", "log_bernoulli_with_logits"
    )
    duplicate = load("03_iwae", "duplicate")
    y_dim, batch = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q_y, log_q_y = logits.softmax(-1), logits.log_softmax(-1)  # (B, Y)
    labels = torch.eye(y_dim, dtype=x.dtype, device=x.device).repeat_interleave(batch, dim=0)  # (Y*B, Y)
    x_rep = duplicate(x, y_dim)  # (Y*B, D): all of x for label 0, then for label 1, ...
    qm, qv = model.encode(x_rep, labels)
    pm, pv = model.prior()
    z = call_with_generator(sample_gaussian, qm, qv, generator=generator)
    rec_y = -log_bernoulli_with_logits(x_rep, model.decode(z, labels)).reshape(y_dim, batch).T  # (B, Y)
    kl_z_y = kl_normal(qm, qv, pm, pv).reshape(y_dim, batch).T  # (B, Y)
    log_p_y = torch.full_like(log_q_y, -math.log(y_dim))
    kl_y = kl_cat(q_y, log_q_y, log_p_y).mean()
    rec = (q_y * rec_y).sum(-1).mean()
    kl_z = (q_y * kl_z_y).sum(-1).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec


def classification_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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
