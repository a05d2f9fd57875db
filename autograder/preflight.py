"""Pre-flight: what a submitted notebook is, before anything of it runs.

- `read_submission`: the notebook, or `InvalidSubmission` saying why the file is not one (read
  within bounds: size, file type, JSON depth, text encoding);
- `preflight(submitted, released, graded)`: the notes about it (another kernel, edited tests
  and locked cells, duplicated cells, code that reaches for the grader's internals);
- `drop_duplicate_ids`: the copy of the notebook that nbgrader can grade (one cell per id);
- `answer_ids`: the cells a submission must still hold.
"""

from __future__ import annotations

import copy
import json
import re

import nbformat
import numpy as np
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from .files import UnsafeFile, read_regular
from .notebooks import cell_label, grade_id

#: The largest notebook read (a chapter's solution notebook is about 1.3 MB) and the deepest
#: JSON nesting parsed (a notebook's own structure is about 8 deep; widget state adds a few).
MAX_NOTEBOOK_BYTES = 32 << 20
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)  # possessive: no backtracking
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_STEPS = np.zeros(256, dtype=np.int8)
_STEPS[list(b"[{")], _STEPS[list(b"]}")] = 1, -1

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
    """The submitted notebook; raises `InvalidSubmission` when it is not an nbformat 4 notebook.

    Nothing is trusted: the file is read by `files.read_regular` (no symbolic link followed, a
    regular file only, at most `MAX_NOTEBOOK_BYTES`), its JSON's nesting is measured before it
    is parsed (`json_depth`: a file of 100 000 `[` would otherwise exhaust the parser's stack),
    and text that is not UTF-8, or that holds a lone UTF-16 surrogate (`"\\ud800"`, which no
    UTF-8 file can hold, so neither the feedback nor the grading copy could be written), makes
    it `invalid` with a message that says so. Jupyter never writes either: replacing them would
    grade code or outputs the student did not write, so the student is asked to save it again."""
    try:
        data_bytes = read_regular(path, MAX_NOTEBOOK_BYTES)
    except UnsafeFile as error:
        raise InvalidSubmission(f"not read: {error}") from None
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSubmission(f"not a notebook: the file is not UTF-8 text (byte {error.start})") from None
    depth = json_depth(data_bytes)
    if depth > MAX_JSON_DEPTH:
        raise InvalidSubmission(f"not a notebook: its JSON is nested {depth} deep, more than {MAX_JSON_DEPTH}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise InvalidSubmission(f"not a notebook: the file is not valid JSON ({error})") from None
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidSubmission(
            f"not a notebook: it holds a lone UTF-16 surrogate ({error.object[error.start]!a}), which Jupyter "
            "never writes: open it in Jupyter, remove that character and save it again"
        ) from None
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):
        raise InvalidSubmission("not a notebook: the JSON has no cells")
    if data.get("nbformat") != 4:
        raise InvalidSubmission(f"nbformat {data.get('nbformat')} notebook: expected nbformat 4 (save it with Jupyter)")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises many kinds on a broken structure
        raise InvalidSubmission(f"not a notebook: {error}") from None


def json_depth(data: bytes) -> int:
    """The deepest nesting of `[` and `{` in the JSON text `data`, strings left out, without
    parsing it (linear time, no recursion: a regular expression drops the strings, numpy adds
    +1 for each opening and -1 for each closing bracket, a million bytes at a time)."""
    bare = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    deepest = level = 0
    for start in range(0, len(bare), 1 << 20):
        steps = _STEPS[np.frombuffer(bare, dtype=np.uint8, count=min(1 << 20, len(bare) - start), offset=start)]
        levels = np.cumsum(steps, dtype=np.int64) + level
        deepest, level = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


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
