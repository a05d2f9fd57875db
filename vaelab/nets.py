"""MLP encoders, decoders and the classifier.

Default sizes follow the CS236 homework: 784 -> 300 -> ELU -> 300 -> ELU -> 2Z for the encoder
(mean, and variance through ``softplus + 1e-8``), the mirror image for the decoder (784 Bernoulli
logits), and 784 -> 300 -> ReLU -> 300 -> ReLU -> 10 for the classifier. The SVHN-sized networks
use 3072 inputs and 500 hidden units (``hidden=500``).

Conditional networks (``y_dim > 0``) concatenate the one-hot label to their input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def gaussian_parameters(h: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``h`` in two halves along ``dim``: a mean and a variance ``softplus(.) + 1e-8``.

    Args:
        h: ``(..., 2Z, ...)``.

    Returns:
        ``(m, v)``, each with ``Z`` along ``dim``.
    """
    m, h_v = torch.chunk(h, 2, dim=dim)
    return m, F.softplus(h_v) + 1e-8


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ELU) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """``q(z | x[, y]) = N(m, diag v)``.

    ``forward(x: (B, D)[, y: (B, Y)]) -> (m: (B, Z), v: (B, Z))``.
    """

    def __init__(self, z_dim: int, x_dim: int = 784, y_dim: int = 0, hidden: int = 300):
        super().__init__()
        self.z_dim, self.x_dim, self.y_dim = z_dim, x_dim, y_dim
        self.net = mlp([x_dim + y_dim, hidden, hidden, 2 * z_dim])

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = x if y is None else torch.cat([x, y], dim=-1)
        return gaussian_parameters(self.net(h), dim=-1)


class Decoder(nn.Module):
    """``z[, y] -> (B, D)`` decoder outputs (Bernoulli logits, or Gaussian means for the FSVAE)."""

    def __init__(self, z_dim: int, x_dim: int = 784, y_dim: int = 0, hidden: int = 300):
        super().__init__()
        self.z_dim, self.x_dim, self.y_dim = z_dim, x_dim, y_dim
        self.net = mlp([z_dim + y_dim, hidden, hidden, x_dim])

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = z if y is None else torch.cat([z, y], dim=-1)
        return self.net(h)


class Classifier(nn.Module):
    """``q(y | x)``: ``(B, D) -> (B, Y)`` logits."""

    def __init__(self, y_dim: int = 10, x_dim: int = 784, hidden: int = 300):
        super().__init__()
        self.y_dim, self.x_dim = y_dim, x_dim
        self.net = mlp([x_dim, hidden, hidden, y_dim], activation=nn.ReLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
