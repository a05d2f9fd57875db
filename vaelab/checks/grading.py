"""What a hidden test cell runs: ``observe("01_vae/kl_normal", kl_normal)``.

The cell observes the answer on the grading inputs (the visible check's probe under
:data:`~vaelab.checks.graded.GRADING_OFFSET`, so on other numbers than the visible check's) and then:

* **while the grader runs the notebook** (``NBGRADER_EXECUTION=autograde``): sends the observation,
  as plain data (:mod:`vaelab.checks.wire`), to the grader, which judges it in its own process
  against the reference (``autograder.judge``). The sandbox holds neither the reference nor the
  expected values, so nothing in the kernel can read or forge a verdict;
* **anywhere else** (the instructor's solution notebooks): judges it at once, against the reference
  installed here, and raises :class:`~vaelab.checks.engine.CheckFailed` when it is wrong.

Either way a function that raises, or returns something no check can use, fails here, in the cell.
In the grader's second run of a notebook whose helpers fail their own tests, the objectives are
observed with the reference helpers named by :data:`SUBSTITUTES` in place of the notebook's.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator

from ..chapters import EXERCISES
from .engine import substituted
from .graded import GRADING_OFFSET, check
from .inputs import offset
from .observe import Observation, expectations
from .wire import MIME, encode

__all__ = ["observe", "helpers_of", "grading_run"]


def grading_run() -> bool:
    """Whether the grader is running this notebook (nbgrader's autograde step)."""
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def helpers_of(check_id: str) -> tuple[str, ...]:
    """The exercise functions of the same chapter that come before this one, which its answer may
    call (its helpers: ``duplicate`` and ``log_mean_exp`` for the IWAE bound)."""
    chapter, name = check_id.split("/")
    exercises = EXERCISES[chapter]
    return exercises[: exercises.index(name)]


@contextlib.contextmanager
def counted_helpers(check_id: str, fn: Callable) -> Iterator[dict[str, int]]:
    """Counts the calls ``fn`` makes to the notebook's helpers while the block runs (the helpers of
    the notebook's namespace are wrapped; ``vaelab.chapters.load`` finds the wrappers there too)."""
    calls: dict[str, int] = {}
    namespace = getattr(fn, "__globals__", {})
    wrappers = {}
    for helper in helpers_of(check_id):
        original = namespace.get(helper)
        if not callable(original) or original is fn:
            continue

        def counting(*args, __original=original, __helper=helper, **kwargs):
            calls[__helper] = calls.get(__helper, 0) + 1
            return __original(*args, **kwargs)

        wrapper = functools.wraps(original)(counting)
        # The notebook's own function, wherever its code comes from: `vaelab.chapters.load` then finds it.
        wrapper.__module__ = getattr(fn, "__module__", wrapper.__module__)
        wrappers[helper] = wrapper
    with substituted(fn, **wrappers):
        yield calls


#: The kernel's environment variable that names the helpers to observe an objective with, in the
#: grader's second run of a notebook whose helpers fail their own tests (``autograder.judge``).
SUBSTITUTES = "VAELAB_GRADING_SUBSTITUTES"


def substitutes(check_id: str) -> dict[str, Callable]:
    """The reference helpers that the grader's second run provides for ``check_id`` (none otherwise)."""
    names = [n for n in os.environ.get(SUBSTITUTES, "").split(",") if n in helpers_of(check_id)]
    if not names:
        return {}
    import importlib

    module = importlib.import_module("vaelab.reference.substitutes")
    return {name: getattr(module, name) for name in names}


def _observed(check_id: str, fn: Callable) -> tuple[Observation, dict[str, int]]:
    with (
        offset(GRADING_OFFSET),
        substituted(fn, **substitutes(check_id)),
        counted_helpers(check_id, fn) as calls,
    ):
        return check(check_id).observe(fn), dict(calls)


def observe(check_id: str, fn: Callable) -> None:
    """Observe the answer ``fn`` of the exercise ``check_id`` on the grading inputs; send the
    observation to the grader, or judge it here (see the module docstring)."""
    got, calls = _observed(check_id, fn)
    if grading_run():
        from IPython.display import publish_display_data

        publish_display_data({MIME: encode(check_id, got, calls)})
        return
    with offset(GRADING_OFFSET):
        check(check_id).judge(got, expectations())
