"""Hidden tests of the autograder, one module per chapter.

The hidden test cells of ``solutions/NN_name.ipynb`` call ``autograder.hidden.chNN.test_<function>``.
Each test checks the answer against ``vaelab``'s reference on many inputs through
:func:`vaelab.checks.check_against_reference` and the chapter's statistical checks, and raises
``AssertionError`` with a message that names the likely mistake.
"""

from __future__ import annotations

import contextlib
from typing import Callable

from vaelab.checks import CheckFailed, calls_reference


def refuse_reference(student: Callable, name: str, reference: Callable, *args, **kwargs) -> None:
    """Fail when ``student`` runs the reference implementation ``reference`` of the same exercise."""
    if calls_reference(student, reference, *args, **kwargs):
        raise CheckFailed(
            f"{name} calls vaelab's reference implementation ({reference.__module__}.{reference.__name__}). "
            "The exercise is to write it yourself, so this answer earns no points for this function."
        )


@contextlib.contextmanager
def substituted(fn: Callable, **replacements):
    """Temporarily replace globals of ``fn``'s module (the notebook) with the given functions.

    Used so that an exercise that builds on earlier ones is graded on its own: a mistake in
    ``kl_normal`` costs ``kl_normal``'s points, not ``negative_elbo_bound``'s too.
    """
    g = fn.__globals__
    missing = object()
    saved = {k: g.get(k, missing) for k in replacements if k in g}
    g.update({k: v for k, v in replacements.items() if k in g})
    try:
        yield
    finally:
        for k, v in saved.items():
            g[k] = v
