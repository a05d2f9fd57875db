"""Hidden tests of the autograder, one module per chapter.

The hidden test cells of ``solutions/NN_name.ipynb`` call ``autograder.hidden.chNN.test_<function>``.
Each test checks the answer against ``vaelab``'s reference on many inputs through
:func:`vaelab.reference.checks.check_against_reference` and the chapter's statistical checks, and raises
``AssertionError`` with a message that names the likely mistake.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelab.checks.inputs import generator, positive, randn
from vaelab.reference.checks import CheckFailed, calls_reference


def _g(seed: int) -> torch.Generator:
    """A fresh generator: every test input is fixed by its seed."""
    return generator(seed)


def _randn(*shape, seed: int, dtype=torch.float32, scale: float = 1.0) -> torch.Tensor:
    return randn(*shape, seed=seed, dtype=dtype, scale=scale)


def _pos(*shape, seed: int, dtype=torch.float32, low: float = 0.05) -> torch.Tensor:
    """Positive values (variances): softplus of a normal draw, plus `low`."""
    return positive(*shape, seed=seed, dtype=dtype, low=low)


def refuse_reference(student: Callable, name: str, reference: Callable, *args, **kwargs) -> None:
    """Fail when ``student`` runs the reference implementation ``reference`` of the same exercise."""
    if calls_reference(student, reference, *args, **kwargs):
        raise CheckFailed(
            f"{name} calls vaelab's reference implementation ({reference.__module__}.{reference.__name__}). "
            "The exercise is to write it yourself, so this answer earns no points for this function."
        )
