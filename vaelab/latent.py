"""Looking into the latent space: active units, KL per dimension, interpolation and traversal.

Posterior collapse is the failure where some (or all) latent dimensions carry no information about
``x``: for them ``q(z_j | x) ~= p(z_j)`` whatever the image. Two measurements show it:

* **activity** (Burda et al. 2015): ``A_j = Cov_x(E_{q(z|x)}[z_j])``, the variance over the data of
  the encoder's mean of dimension ``j``. A dimension whose mean does not move with ``x`` cannot
  tell images apart. The usual criterion counts dimension ``j`` as an **active unit** when
  ``A_j > 0.01``.
* **KL per dimension**: ``E_x KL(q(z_j | x) || p(z_j))``, the nats each dimension costs in the ELBO
  (for factorised ``q`` and ``p`` the KL is the sum of these). A collapsed dimension costs ~0.

This module holds no exercise's math. :func:`kl_per_dimension` takes the KL function as an
argument (the notebook passes the student's ``kl_normal``); the rest uses only the encoder's means
and the decoder. Shapes use the course alphabet: N images, B batch, D data, Z latent, T steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = [
    "ACTIVE_THRESHOLD",
    "encoder_means",
    "activity",
    "active_units",
    "kl_per_dimension",
    "interpolate",
    "traverse",
]

#: A dimension is active when the variance over x of its encoder mean exceeds this (Burda et al. 2015).
ACTIVE_THRESHOLD = 0.01


def _device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _encoded_batches(model: nn.Module, x: torch.Tensor, batch_size: int):
    """Yield ``(m, v)`` of ``model.encode`` on batches of ``x``, in eval mode and without gradients."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty (N, D) tensor, got shape {tuple(x.shape)}")
    device, was_training = _device(model), model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                yield model.encode(x[start : start + batch_size].to(device))
    finally:
        model.train(was_training)


def encoder_means(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The encoder's means ``E_q[z | x]`` of every image.

    Args:
        model: a model with ``encode(x) -> (m, v)`` (the VAE, the GMVAE).
        x: ``(N, D)`` images (intensities in [0, 1] or binary, as the model was trained on).
        batch_size: images per forward pass.

    Returns:
        ``(N, Z)`` float64 on the CPU.
    """
    return torch.cat([m.double().cpu() for m, _ in _encoded_batches(model, x, batch_size)])


def activity(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Activity of each latent dimension, ``A_j = Var_x(E_q[z_j | x])``.

    .. math:: A_j = \\frac1N \\sum_n \\big(\\mu_j(x_n) - \\bar\\mu_j\\big)^2, \\qquad
              \\bar\\mu_j = \\frac1N \\sum_n \\mu_j(x_n)

    (the diagonal of the covariance over the data of the encoder means ``mu(x)``; the ``1/N``
    version, so that ``N = 1`` gives 0, not NaN).

    Args:
        model, x, batch_size: as :func:`encoder_means`; ``x: (N, D)``.

    Returns:
        ``(Z,)`` float64, each ``>= 0``.
    """
    return encoder_means(model, x, batch_size).var(dim=0, unbiased=False)


def active_units(model: nn.Module, x: torch.Tensor, threshold: float = ACTIVE_THRESHOLD, batch_size: int = 500) -> int:
    """Number of active units: dimensions with ``activity > threshold`` (0.01 by default).

    Args:
        model, x, batch_size: as :func:`activity`; ``x: (N, D)``.
        threshold: the activity above which a dimension counts as active.

    Returns:
        An ``int`` between 0 and ``Z``.
    """
    return int((activity(model, x, batch_size) > threshold).sum())


def kl_per_dimension(model: nn.Module, x: torch.Tensor, kl: Callable, batch_size: int = 500) -> torch.Tensor:
    """Mean over the images of the KL of each latent dimension, ``E_x KL(q(z_j | x) || p(z_j))``.

    For a diagonal Gaussian ``q`` and prior ``p`` the KL is a sum over dimensions, so the entries
    add up to the model's KL term. Each dimension's KL comes from ``kl`` itself: the means and
    variances get a trailing axis of size 1, ``(B, Z) -> (B, Z, 1)``, over which ``kl`` sums, so a
    ``kl`` that sums over the last dimension returns the ``(B, Z)`` per-dimension values.

    Args:
        model: a model with a Gaussian prior: ``encode(x) -> (m, v)`` and ``prior() -> (m, v)``
            each ``(1, Z)`` (the VAE). A mixture prior (``(1, K, Z)``) has no per-dimension KL.
        x: ``(N, D)`` images.
        kl: ``kl(qm, qv, pm, pv) -> KL summed over the last dimension``, e.g. your ``kl_normal``.
        batch_size: images per forward pass.

    Returns:
        ``(Z,)`` float64, in nats per image.
    """
    pm, pv = model.prior()
    if pm.ndim != 2:
        raise ValueError(
            f"kl_per_dimension needs a Gaussian prior with (1, Z) parameters; got shape "
            f"{tuple(pm.shape)} (a mixture prior has no per-dimension KL)"
        )
    total, n = None, 0
    for qm, qv in _encoded_batches(model, x, batch_size):
        with torch.no_grad():
            per_dim = kl(qm[..., None], qv[..., None], pm.expand_as(qm)[..., None], pv.expand_as(qv)[..., None])
        per_dim = torch.as_tensor(per_dim).double().cpu()
        if per_dim.shape != qm.shape:
            raise ValueError(
                f"kl returned shape {tuple(per_dim.shape)} for inputs of shape {tuple(qm.shape) + (1,)}: "
                "it should sum over the last dimension only, giving (B, Z)"
            )
        total = per_dim.sum(0) if total is None else total + per_dim.sum(0)
        n += len(qm)
    return total / n


def _as_code(z: torch.Tensor, name: str) -> torch.Tensor:
    z = torch.as_tensor(z)
    if z.ndim == 2 and len(z) == 1:
        z = z[0]
    if z.ndim != 1:
        raise ValueError(f"{name} must be one code, (Z,) or (1, Z); got shape {tuple(z.shape)}")
    return z


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, steps: int = 10, mode: str = "linear") -> torch.Tensor:
    """Codes on a path from ``z_a`` to ``z_b``, both ends included.

    * ``"linear"``: ``z_t = (1 - t) z_a + t z_b``, ``t = 0, 1/(T-1), ..., 1``.
    * ``"spherical"`` (slerp, White 2016): ``z_t = sin((1-t) w) / sin w * z_a + sin(t w) / sin w * z_b``
      with ``w`` the angle between the codes. Under ``p(z) = N(0, I)`` codes concentrate near the
      sphere of radius ``sqrt(Z)``; the straight line between two of them dips inside it, to codes
      the prior (and so the decoder) rarely saw, while the arc keeps a typical norm when the two
      norms are equal. Nearly parallel codes fall back to the linear path.

    Args:
        z_a, z_b: ``(Z,)`` or ``(1, Z)`` codes.
        steps: ``T >= 2`` points on the path.
        mode: ``"linear"`` or ``"spherical"``.

    Returns:
        ``(T, Z)``: row 0 is ``z_a``, row ``T - 1`` is ``z_b``.
    """
    z_a, z_b = _as_code(z_a, "z_a"), _as_code(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b differ in shape: {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both ends), got {steps}")
    if mode not in ("linear", "spherical"):
        raise ValueError(f"mode must be 'linear' or 'spherical', got {mode!r}")
    t = torch.linspace(0.0, 1.0, steps, dtype=z_a.dtype, device=z_a.device)[:, None]
    if mode == "spherical":
        cos = torch.dot(z_a, z_b) / (z_a.norm() * z_b.norm()).clamp_min(torch.finfo(z_a.dtype).tiny)
        omega = torch.arccos(cos.clamp(-1.0, 1.0))
        if torch.sin(omega) > 1e-6:
            return (torch.sin((1 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / torch.sin(omega)
    return (1 - t) * z_a + t * z_b


def traverse(z: torch.Tensor, dim: int, values: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Copies of the code ``z`` with dimension ``dim`` set to each of ``values``, the others kept.

    Decoding the rows shows what that one dimension controls (a latent traversal).

    Args:
        z: ``(Z,)`` or ``(1, Z)`` code, e.g. an encoder mean or the prior mean ``0``.
        dim: the dimension to move, ``0 <= dim < Z`` (negative indices count from the end).
        values: ``T`` values for ``z[dim]``, e.g. ``torch.linspace(-3, 3, 9)``.

    Returns:
        ``(T, Z)``.
    """
    z = _as_code(z, "z")
    if not -len(z) <= dim < len(z):
        raise IndexError(f"dim {dim} is out of range for a code of {len(z)} dimensions")
    values = torch.as_tensor(values, dtype=z.dtype, device=z.device).reshape(-1)
    codes = z.expand(len(values), -1).clone()
    codes[:, dim] = values
    return codes
