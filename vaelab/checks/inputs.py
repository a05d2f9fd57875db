"""Seeded inputs of the checks, shared by the visible checks and the autograder's hidden tests.

Every input is fixed by its seed and drawn from a fresh ``torch.Generator``, so that a check never
touches the global random state and draws the same numbers wherever it runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def generator(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32, scale: float = 1.0) -> torch.Tensor:
    """``scale * N(0, 1)`` draws of ``shape``."""
    return scale * torch.randn(*shape, generator=generator(seed), dtype=dtype)


def positive(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32, low: float = 0.1) -> torch.Tensor:
    """Positive values (variances): ``softplus(N(0, 1)) + low``."""
    return F.softplus(randn(*shape, seed=seed, dtype=dtype)) + low
