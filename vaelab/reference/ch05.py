"""Reference answers of chapter 5 (FSVAE): the conditional VAE's negative ELBO with a Gaussian
likelihood, and the labels-by-styles sample grid.

Instructor only (shipped in the handout only when chapter 5 is ``--solved``); chapter 1's
functions come from :func:`vaelab.chapters.load`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..chapters import call_with_generator, load

__all__ = ["negative_elbo_bound", "sample_grid"]


def negative_elbo_bound(model, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
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
    sample_gaussian, log_normal, kl_normal = load("01_vae", "sample_gaussian", "log_normal", "kl_normal")
    qm, qv = model.encode(x, y)
    pm, pv = model.prior()
    z = call_with_generator(sample_gaussian, qm, qv, generator=generator)
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
    z = torch.randn(n_styles, model.z_dim, generator=generator, device=generator.device if generator else device).to(
        device
    )
    rows = []
    with torch.no_grad():
        for label in range(model.y_dim):
            y = F.one_hot(torch.full((n_styles,), label, device=device), model.y_dim).float()
            rows.append(model.decode(z, y))
    return torch.stack(rows).reshape(model.y_dim, n_styles, *model.image_shape).clip(0.0, 1.0)
