"""`python -m autograder release`: regenerate `chapters/NN_name.ipynb` from `solutions/`.

Each student notebook is what `nbgrader generate_assignment` writes for its source notebook, in
a temporary course of its own (outputs cleared, solutions replaced by stubs, hidden tests
removed, read-only cells locked, checksums recorded), then written canonically by
`notebooks.canonical`, so that a release is byte-identical when the sources did not change.
`--check` writes nothing and lists the notebooks that differ from a fresh release.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import notebooks
from .course import Course


def student_notebook(solution: Path) -> bytes:
    """The released student version of the source notebook `solution`, as file bytes."""
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        released = Course(tmp).generate_assignment(solution)
    notebooks.check_no_leaks(notebooks.read(solution), released, solution.name)
    return notebooks.canonical(released)


def drifted(solutions: Path, chapters: Path) -> list[str]:
    """The chapters whose student notebook differs from a fresh release of its source (or is missing)."""
    return [
        name
        for name, solution in notebooks.chapter_sources(solutions).items()
        if not (chapters / f"{name}.ipynb").is_file()
        or (chapters / f"{name}.ipynb").read_bytes() != student_notebook(solution)
    ]


def release(solutions: Path, chapters: Path, check: bool = False) -> int:
    """Writes (or, with `check`, compares) every chapter; returns the exit code: 0, or 1 when
    `check` finds drift, or 2 when there is no source notebook."""
    sources = notebooks.chapter_sources(solutions)
    if not sources:
        print(f"error: no source notebooks in {solutions}/")
        return 2
    drift = []
    for name, solution in sources.items():
        target = chapters / f"{name}.ipynb"
        fresh = student_notebook(solution)
        if target.exists() and target.read_bytes() == fresh:
            print(f"{target}: up to date")
        elif check:
            drift.append(
                f"{target} differs from a fresh release of {solution}" if target.exists() else f"{target} is missing"
            )
        else:
            chapters.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fresh)
            print(f"{target}: written from {solution}")
    expected = {chapters / f"{name}.ipynb" for name in sources}
    for stale in sorted(set(chapters.glob("*.ipynb")) - expected):
        message = f"{stale} has no source notebook in {solutions}/"
        if check:
            drift.append(message)
        else:
            print(f"warning: {message}")
    for line in drift:
        print(f"drift: {line}")
    if drift:
        print("run `python -m autograder release` to regenerate the student notebooks")
        return 1
    return 0
