"""`python -m autograder check chapters/NN_name.ipynb`: a student's self-check.

The self-check itself is :mod:`vaelab.selfcheck`, which a student handout ships too (its
``python -m autograder check`` is a shim that calls it). Here it adds one note that needs nbgrader:
the locked check cells the student edited (the grader runs the original ones).

Exit code: 0 when every function passes its visible checks, 1 otherwise, 2 when the file is not
a notebook.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader import utils as nbgrader_utils

from vaelab import selfcheck

from . import notebooks


def edited_tests(nb) -> list[str]:
    """The locked cells whose source differs from the one released (nbgrader's checksum)."""
    edited = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and meta.get("checksum") and meta.get("grade_id"):
            if nbgrader_utils.compute_checksum(cell) != meta["checksum"]:
                edited.append(meta["grade_id"])
    return edited


def check(path: Path, timeout: int | None = 600) -> int:
    """Runs the self-check of the notebook at `path` and prints it; returns the exit code."""
    code = selfcheck.check(path, timeout)
    if code != 2:
        edited = edited_tests(notebooks.read(path))
        if edited:
            print(f"note: you changed the test cells {', '.join(edited)}: the grader runs the original ones")
    return code
