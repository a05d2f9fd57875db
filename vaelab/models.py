"""The course's models: networks and prior parameters only.

No loss code lives here: the objectives are in :mod:`vaelab.reference` (the reference answers)
and in the students' notebooks. Every model records the keyword arguments it was built with in
``self.config`` so that a checkpoint can rebuild it (:func:`vaelab.checkpoints.load_checkpoint`).

| model   | interface |
|---------|-----------|
| VAE     | ``encode(x) -> (m, v)``, ``decode(z) -> logits``, ``prior() -> (m, v)``, ``log_prior(z)``, ``z_dim`` |
| GMVAE   | as VAE; ``prior()`` returns mixture means and variances, each ``(1, K, Z)``; ``k`` |
| SSVAE   | ``classify(x) -> (B, Y)`` logits, ``encode(x, y)``, ``decode(z, y) -> logits``, ``prior()``, ``y_dim`` |
| FSVAE   | ``encode(x, y)``, ``decode(z, y) -> mean``, ``prior()``, ``x_var = 0.1`` |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .chapters import load
from .nets import Classifier, Decoder, Encoder


class _StandardNormalPrior(nn.Module):
    """Holds ``p(z) = N(0, I)`` as non-trainable buffers so that it follows ``.to(device)``."""

    def _init_prior(self, z_dim: int) -> None:
        self.register_buffer("z_prior_m", torch.zeros(1, z_dim))
        self.register_buffer("z_prior_v", torch.ones(1, z_dim))

    def prior(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(m, v)`` of ``p(z)``, each ``(1, Z)``."""
        return self.z_prior_m, self.z_prior_v

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)``: ``(..., Z) -> (...)``, with chapter 1's ``log_normal`` (:func:`vaelab.chapters.load`)."""
        return load("01_vae", "log_normal")(z, *self.prior())

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws from the prior, ``(n, Z)`` (no gradient: for pictures, not for training)."""
        mean, variance = self.prior()
        return torch.normal(mean.expand(n, -1), variance.sqrt().expand(n, -1), generator=generator)


class VAE(_StandardNormalPrior):
    """VAE with ``p(z) = N(0, I)`` and a Bernoulli decoder (784 pixels by default)."""

    name = "vae"

    def __init__(self, z_dim: int = 10, x_dim: int = 784, hidden: int = 300):
        super().__init__()
        self.config = {"z_dim": z_dim, "x_dim": x_dim, "hidden": hidden}
        self.z_dim, self.x_dim = z_dim, x_dim
        self.encoder = Encoder(z_dim, x_dim, hidden=hidden)
        self.decoder = Decoder(z_dim, x_dim, hidden=hidden)
        self._init_prior(z_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: (B, D) -> (m, v)``, each ``(B, Z)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z: (B, Z) -> (B, D)`` Bernoulli logits."""
        return self.decoder(z)


class GMVAE(VAE):
    """VAE whose prior is a uniform mixture of ``k`` learnable diagonal Gaussians.

    ``z_pre`` holds ``2k`` rows: the first ``k`` are the component means, the next ``k`` are
    pre-softplus variances. It starts as ``randn(1, 2k, Z) / sqrt(k * Z)``, small enough that the
    components begin near the origin, where the encoder's posteriors start.
    """

    name = "gmvae"

    def __init__(self, z_dim: int = 10, k: int = 500, x_dim: int = 784, hidden: int = 300):
        super().__init__(z_dim=z_dim, x_dim=x_dim, hidden=hidden)
        self.config = {"z_dim": z_dim, "k": k, "x_dim": x_dim, "hidden": hidden}
        self.k = k
        self.z_pre = nn.Parameter(torch.randn(1, 2 * k, z_dim) / math.sqrt(k * z_dim))

    def prior(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixture means and variances, each ``(1, K, Z)``."""
        m, h = torch.chunk(self.z_pre, 2, dim=1)
        return m, F.softplus(h) + 1e-8

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` under the mixture, with chapter 2's ``log_normal_mixture``: ``(B, Z) -> (B,)``."""
        return load("02_gmvae", "log_normal_mixture")(z, *self.prior())

    def sample_z(
        self, n: int, generator: torch.Generator | None = None, component: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``n`` draws from the mixture (or from the given components, ``(n,)`` indices)."""
        means, variances = self.prior()
        if component is None:
            component = torch.randint(self.k, (n,), generator=generator, device=means.device)
        return torch.normal(means[0, component], variances[0, component].sqrt(), generator=generator)


class SSVAE(_StandardNormalPrior):
    """Semi-supervised VAE (Kingma et al. 2014, M2): ``q(y|x)``, ``q(z|x,y)``, ``p(x|z,y)``."""

    name = "ssvae"

    def __init__(self, z_dim: int = 64, y_dim: int = 10, x_dim: int = 784, hidden: int = 300):
        super().__init__()
        self.config = {"z_dim": z_dim, "y_dim": y_dim, "x_dim": x_dim, "hidden": hidden}
        self.z_dim, self.y_dim, self.x_dim = z_dim, y_dim, x_dim
        self.encoder = Encoder(z_dim, x_dim, y_dim=y_dim, hidden=hidden)
        self.decoder = Decoder(z_dim, x_dim, y_dim=y_dim, hidden=hidden)
        self.classifier = Classifier(y_dim, x_dim, hidden=hidden)
        self._init_prior(z_dim)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (B, D) -> (B, Y)`` logits of ``q(y | x)``."""
        return self.classifier(x)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: (B, D), y: (B, Y) one-hot -> (m, v)``, each ``(B, Z)``."""
        return self.encoder(x, y)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``z: (B, Z), y: (B, Y) -> (B, D)`` Bernoulli logits."""
        return self.decoder(z, y)


class FSVAE(_StandardNormalPrior):
    """Fully supervised (conditional) VAE with a Gaussian likelihood of fixed variance ``x_var``.

    ``image_shape`` is ``(C, H, W)``; the networks see flattened images of ``C * H * W`` values.
    """

    name = "fsvae"
    x_var = 0.1

    def __init__(
        self, z_dim: int = 10, y_dim: int = 10, image_shape: tuple[int, int, int] = (3, 32, 32), hidden: int = 500
    ):
        super().__init__()
        image_shape = tuple(int(s) for s in image_shape)
        x_dim = math.prod(image_shape)
        self.config = {"z_dim": z_dim, "y_dim": y_dim, "image_shape": list(image_shape), "hidden": hidden}
        self.z_dim, self.y_dim, self.x_dim, self.image_shape = z_dim, y_dim, x_dim, image_shape
        self.encoder = Encoder(z_dim, x_dim, y_dim=y_dim, hidden=hidden)
        self.decoder = Decoder(z_dim, x_dim, y_dim=y_dim, hidden=hidden)
        self._init_prior(z_dim)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: (B, D), y: (B, Y) -> (m, v)``, each ``(B, Z)``."""
        return self.encoder(x, y)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``z: (B, Z), y: (B, Y) -> (B, D)`` means of ``p(x | z, y)``."""
        return self.decoder(z, y)


MODELS = {cls.name: cls for cls in (VAE, GMVAE, SSVAE, FSVAE)}


def build_model(name: str, **config) -> nn.Module:
    """Build a model by name (``vae``, ``gmvae``, ``ssvae``, ``fsvae``) from its config."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(**config)
