"""The toy chapter's class (`tests/fixtures/toy`), shared by the tests of whole batches."""

from __future__ import annotations

from pathlib import Path

from autograder import testing

TOY = Path(__file__).resolve().parent / "fixtures" / "toy" / "solutions"
CHAPTER = "00_toy"


def write_class(root: Path, extra: dict[str, dict[str, str]] | None = None) -> Path:
    """root/<student>/00_toy.ipynb for ada (the reference answers), bob (the untouched stubs), cy
    (a wrong `square`), dee (`add` renamed) and eve (not JSON), plus `extra`: {student: {grade_id:
    the answer cell's source}}. Returns `root`."""
    source = testing.read_notebook(TOY / f"{CHAPTER}.ipynb")
    students = {
        "ada": testing.make_submission(source),
        "bob": testing.make_submission(source, answered=False),
        "cy": testing.make_submission(source, {"square": "def square(x):\n    return -x"}),
        "dee": testing.make_submission(source, {"add": "def plus(a, b):\n    return a + b"}),
        "eve": '{"cells": [',
    }
    for student, answers in (extra or {}).items():
        students[student] = testing.make_submission(source, answers)
    return testing.write_submissions(root, {s: {CHAPTER: nb} for s, nb in students.items()})
