"""Full checks of every exercise, one module per chapter, judging an answer in one process.

No grade depends on them: grading observes the answers in the sandbox and judges the observations
outside it (``vaelab.checks.grading``, ``autograder.judge``). The test suite runs these checks over
the corpus of student answers (``tests/test_corpus.py``) next to the graded checks, as a second
opinion with more inputs. Each ``test_<function>`` checks the answer against ``vaelab``'s reference
on many inputs through :func:`vaelab.reference.checks.check_against_reference` and the chapter's
statistical checks, and raises ``AssertionError`` with a message that names the likely mistake.

Every ``test_<function>`` is wrapped by :func:`judged` (each chapter module ends with
``judge_all(globals())``): a failure reaches the notebook as one ``AssertionError`` whose traceback
shows neither the lines of these tests nor the reference's, only the message and, when the student's
code raised, the student's own lines. The wrapper also refuses to judge while a torch function or
dispatch mode is active (code that intercepts every torch call, comparisons included).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable

import torch

from vaelab.checks.engine import refusal
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
        raise CheckFailed(refusal(name, reference))


#: Where the test machinery and the installed packages live: frames there are not the student's.
_TRUSTED = tuple(
    os.path.realpath(p) for p in (os.path.dirname(os.path.dirname(torch.__file__)), sys.prefix, sys.base_prefix)
) + (os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "<frozen")


def _interceptors() -> list[str]:
    """The torch modes that would see (and could rewrite) every torch call of a check."""
    found = []
    if torch._C._len_torch_function_stack():
        found.append("a torch function mode (TorchFunctionMode)")
    if torch._C._len_torch_dispatch_stack():
        found.append("a torch dispatch mode (TorchDispatchMode)")
    return found


def _student_frames(failure: BaseException) -> str:
    """The student's own lines in the exception chain of ``failure`` (cells and files outside the
    course library and the installed packages), formatted for the message."""
    seen, error = set(), failure
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = [
            f
            for f in traceback.extract_tb(error.__traceback__)
            if not os.path.realpath(f.filename).startswith(_TRUSTED) and not f.filename.startswith("<frozen")
        ]
        if frames and error is not failure:
            lines = [f"  line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-3:]]
            return f"\nWhere your code raised {type(error).__name__}:\n" + "\n".join(lines)
        error = error.__cause__ or error.__context__
    return ""


def judged(test: Callable) -> Callable:
    """``test`` as a notebook sees it: one ``CheckFailed`` with the message, no internal traceback."""

    @functools.wraps(test)
    def run(*answers, **options):
        modes = _interceptors()
        if modes:
            raise CheckFailed(
                f"{', '.join(modes)} is active: it intercepts every torch call, the checks' comparisons too, so "
                "the answer cannot be judged. Remove it (and any `with` block or __enter__ that installs it)."
            )
        try:
            test(*answers, **options)
        except AssertionError as failure:
            message = f"{failure}{_student_frames(failure)}"
        except Exception as failure:  # what the answer returned broke a check: say so, keep the internals out
            message = f"the check could not use what the answer returned ({type(failure).__name__}: {failure})"
            message += _student_frames(failure)
        else:
            return None
        raise CheckFailed(message) from None

    run.__wrapped__ = None  # inspect.unwrap must not lead back to the test's code
    return run


def judge_all(namespace: dict) -> None:
    """Wraps every ``test_*`` function of a chapter module with :func:`judged`."""
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            namespace[name] = judged(value)
