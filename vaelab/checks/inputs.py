"""Seeded inputs of the checks, shared by the visible checks and the autograder's hidden tests.

Every input is fixed by its seed and drawn from a fresh ``torch.Generator``, so that a check never
touches the global random state and draws the same numbers wherever it runs.

Grading draws other inputs than the visible checks: inside ``with offset(n):`` every seed is shifted
by ``n`` (here and in :func:`vaelab.checks.probes.seeded`), so every seeded input and seeded model
changes, while the checks stay the same code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

_OFFSET = [0]  # a list, so that the context manager can change it in place


@contextlib.contextmanager
def offset(n: int) -> Iterator[int]:
    """``with offset(n):`` shifts every seed of the checks' inputs by ``n`` (restored on exit)."""
    previous = _OFFSET[0]
    _OFFSET[0] = int(n)
    try:
        yield _OFFSET[0]
    finally:
        _OFFSET[0] = previous


def current_offset() -> int:
    """The seed offset in force (0 outside any :func:`offset` block)."""
    return _OFFSET[0]


def generator(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with ``seed`` (plus the current :func:`offset`)."""
    return torch.Generator().manual_seed(seed + current_offset())


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32, scale: float = 1.0) -> torch.Tensor:
    """``scale * N(0, 1)`` draws of ``shape``."""
    return scale * torch.randn(*shape, generator=generator(seed), dtype=dtype)


def positive(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32, low: float = 0.1) -> torch.Tensor:
    """Positive values (variances): ``softplus(N(0, 1)) + low``."""
    return F.softplus(randn(*shape, seed=seed, dtype=dtype)) + low
