"""Pre-flight: what a submitted notebook is, before anything of it runs.

- `read_submission`: the notebook, or `InvalidSubmission` saying why the file is not one;
- `preflight(submitted, released, graded)`: the notes about it (another kernel, edited tests
  and locked cells, duplicated cells, code that reaches for the grader's internals);
- `drop_duplicate_ids`: the copy of the notebook that nbgrader can grade (one cell per id);
- `answer_ids`: the cells a submission must still hold.
"""

from __future__ import annotations

import copy
import json

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from .notebooks import cell_label, grade_id

#: Names in a student's cell that reach for the grader's internals (flagged for review).
SUSPICIOUS = (
    "autograder",
    "sys.modules",
    "get_referrers",
    "get_objects",
    "settrace",
    "setprofile",
    "set_custom_exc",
    "ctypes",
    "__builtins__",
    "import builtins",
    "events.register",
    "importlib.reload",
    "_autograder_guard",
    "meta_path",
)


class InvalidSubmission(Exception):
    """A file that is not a gradable chapter notebook; the message says why."""


def read_submission(path) -> NotebookNode:
    """The submitted notebook; raises `InvalidSubmission` when it is not an nbformat 4 notebook."""
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidSubmission(f"not a notebook: the file is not valid JSON ({error})") from None
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):
        raise InvalidSubmission("not a notebook: the JSON has no cells")
    if data.get("nbformat") != 4:
        raise InvalidSubmission(f"nbformat {data.get('nbformat')} notebook: expected nbformat 4 (save it with Jupyter)")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises many kinds on a broken structure
        raise InvalidSubmission(f"not a notebook: {error}") from None


def answer_ids(nb: NotebookNode) -> set[str]:
    """grade_ids of the graded cells and of the answer cells."""
    return {grade_id(cell) for cell in nb.cells if nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell)}


def drop_duplicate_ids(nb: NotebookNode) -> NotebookNode:
    """Keeps the nbgrader metadata of the last cell of each grade_id only (a student who copied
    a cell copied its metadata). nbgrader does the same, but blanks the metadata of the others
    instead of removing it, which its own validator then rejects, failing the whole notebook."""
    seen = set()
    for cell in reversed(nb.cells):
        name = grade_id(cell)
        if name in seen:
            del cell.metadata["nbgrader"]
        elif name:
            seen.add(name)
    return nb


def duplicated_ids(nb: NotebookNode) -> list[str]:
    ids = [grade_id(cell) for cell in nb.cells]
    return sorted({i for i in ids if i and ids.count(i) > 1})


def edited_locked_cells(submitted: NotebookNode, released: NotebookNode) -> list[str]:
    """The locked cells of `released` whose source the student changed, found as nbgrader finds
    them: the checksum of the released cell with the submitted source differs from the one
    recorded at release (nbgrader then restores the released source)."""
    by_id = {grade_id(cell): cell for cell in submitted.cells if grade_id(cell)}  # the last copy
    edited = []
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("locked") or meta.get("grade_id") not in by_id:
            continue
        candidate = copy.deepcopy(cell)
        candidate.source = by_id[meta["grade_id"]].source
        if nbgrader_utils.compute_checksum(candidate) != meta.get("checksum"):
            edited.append(meta["grade_id"])
    return edited


def suspicious_code(submitted: NotebookNode) -> list[str]:
    """`cell: name` for the code cells a student can edit whose source names the grader's
    internals (`SUSPICIOUS`): for a human to review; it costs no points by itself."""
    found = []
    for index, cell in enumerate(submitted.cells):
        if cell.cell_type != "code" or nbgrader_utils.is_locked(cell):
            continue
        names = [n for n in SUSPICIOUS if n in cell.source]
        if names:
            found.append(f"{cell_label(cell, index)} uses {', '.join(names)}")
    return found


def preflight(submitted: NotebookNode, released: NotebookNode, graded: set[str]) -> list[str]:
    """The notes about `submitted` against the chapter's `released` notebook, whose graded cells
    are `graded` (see the module docstring)."""
    notes = []
    asked = submitted.metadata.get("kernelspec", {}).get("name")
    course_kernel = released.metadata.get("kernelspec", {}).get("name", "python3")
    if asked != course_kernel:
        notes.append(
            f"kernel: the notebook asks for kernel {asked!r}; it was graded with the "
            f"course's kernel ({course_kernel!r})"
        )
    edited = edited_locked_cells(submitted, released)
    tests = [g for g in edited if g in graded]
    if tests:
        notes.append(f"tests_edited: {', '.join(tests)} (the original tests were restored and run)")
    if len(edited) > len(tests):
        notes.append("locked cells edited: " + ", ".join(g for g in edited if g not in tests) + " (restored)")
    duplicates = duplicated_ids(submitted)
    if duplicates:
        notes.append(f"duplicated cells: {', '.join(duplicates)} (the last copy is graded)")
    suspicious = suspicious_code(submitted)
    if suspicious:
        notes.append("review: " + "; ".join(suspicious))
    return notes
