"""Notebook helpers shared by the commands.

- `read` / `canonical` / `write`: notebooks on disk, written byte-for-byte reproducibly;
- `grade_id`, `cell_label`, `is_test`, `error_outputs`, `first_line`: what nbgrader's metadata
  and a cell's outputs say about it;
- `student_view`: nbgrader's own preprocessors that turn a source notebook into what a student
  sees (stubs instead of solutions, no hidden tests), outputs untouched;
- `leaked_lines`: the safety net that checks that no line of a solution or of a hidden test
  survived in a student view;
- `environment`: sets the environment that the kernels started inside it inherit (fast mode).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import nbgrader.api
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions


@functools.cache
def alembic_head() -> str:
    """The newest revision of nbgrader's database schema, which nbgrader writes into every new
    gradebook. nbgrader learns it by running `alembic heads` in a subprocess (0.3 to 3 s, a
    Python that imports alembic and nbgrader's migrations, found on PATH); the same answer read
    here, from the same migration scripts, takes 0.1 s, once per process. Every grading module
    imports this one, so nbgrader always asks here (`nbgrader.api.get_alembic_version`)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.api.__file__).parent / "alembic")).get_current_head()


nbgrader.api.get_alembic_version = alembic_head


#: Metadata that changes when a notebook is merely re-run or re-opened, not when it is edited.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")
VOLATILE_NOTEBOOK_METADATA = ("widgets",)

#: nbgrader's delimiters of the regions that a student never sees.
SECRET_REGIONS = (
    ("BEGIN SOLUTION", "END SOLUTION"),
    ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    ("BEGIN MARK SCHEME", "END MARK SCHEME"),
)


def read(path: str | os.PathLike) -> NotebookNode:
    """Reads a notebook as nbformat 4."""
    return nbformat.read(os.fspath(path), as_version=4)


def canonical(nb: NotebookNode) -> bytes:
    """The notebook as Jupyter writes it (sorted keys, 1-space indent, trailing newline), less
    the volatile metadata (timings, widget state, the Python patch version)."""
    nb = copy.deepcopy(nb)
    for key in VOLATILE_NOTEBOOK_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    # A lone surrogate (a JSON escape such as \ud800) has no UTF-8 form: it becomes U+FFFD.
    return re.sub("[\ud800-\udfff]", "\ufffd", nbformat.writes(nb) + "\n").encode("utf-8")


def write(nb: NotebookNode, path: str | os.PathLike) -> None:
    """Writes `canonical(nb)` to `path`, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canonical(nb))


def grade_id(cell: NotebookNode) -> str | None:
    """The cell's nbgrader `grade_id`, None when it has none."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell_label(cell: NotebookNode, index: int) -> str:
    """How reports name a cell: its `grade_id`, or `cell N` (1-based) when it has none."""
    return grade_id(cell) or f"cell {index + 1}"


def is_test(cell: NotebookNode) -> bool:
    """Whether the cell is an autograded test cell (graded, not an answer)."""
    return nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell)


def error_outputs(cell: NotebookNode) -> list[NotebookNode]:
    """The error outputs of a (code) cell."""
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def first_line(output: NotebookNode) -> str:
    """`ename: the first line of evalue` of an error output: the named mistake of a test."""
    value = (output.get("evalue") or "").strip().splitlines()
    return f"{output.get('ename')}: {value[0]}" if value else str(output.get("ename"))


#: The label under outputs shown from the submitted notebook (`show_submitted_outputs`).
OWN_RUN = (
    "Output above: from the notebook you submitted (your own run). The grader re-ran this cell in fast mode "
    "(far fewer training steps, figures not drawn); no grade depends on what it shows."
)


def origin_label(text: str) -> NotebookNode:
    """An output that says where the outputs above it come from (styled by the feedback page)."""
    return NotebookNode(
        output_type="display_data",
        data={"text/html": f'<div class="autograder-origin">{text}</div>', "text/plain": f"[{text}]"},
        metadata={},
    )


def show_submitted_outputs(graded: NotebookNode, submitted: NotebookNode, max_chars: int) -> int:
    """Shows, in the graded notebook, the submitted notebook's own outputs of the ordinary code
    cells (neither answers nor tests: training, figures), with `OWN_RUN` under them, where the
    grader's re-run of the cell raised no error and they fit in `max_chars` (0: no limit); the
    cells are matched by position, and nothing is shown when the notebooks differ in length.
    Returns how many cells show their own outputs."""
    if len(graded.cells) != len(submitted.cells):
        return 0
    shown = 0
    for mine, theirs in zip(graded.cells, submitted.cells):
        if mine.cell_type != "code" or theirs.cell_type != "code" or nbgrader_utils.is_grade(mine):
            continue
        outputs = list(theirs.get("outputs") or [])
        if nbgrader_utils.is_solution(mine) or not outputs or error_outputs(mine):
            continue
        if max_chars and len(json.dumps(outputs)) > max_chars:
            continue
        mine.outputs = [*copy.deepcopy(outputs), origin_label(OWN_RUN)]
        shown += 1
    return shown


def graded_cells(nb: NotebookNode) -> dict[str, tuple[str, float]]:
    """`{grade_id: (kind, points)}` of the graded cells of a (source or released) notebook:
    kind `auto` for a test cell, `manual` for a written answer graded by hand."""
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = ("manual" if meta.get("solution") else "auto", float(meta["points"]))
    return cells


def student_view(nb: NotebookNode) -> NotebookNode:
    """A copy of the source notebook `nb` as students see it: solution regions replaced by
    nbgrader's stubs (``# YOUR CODE HERE`` / ``raise NotImplementedError()``, ``YOUR ANSWER HERE``),
    hidden tests and mark schemes removed. Outputs are kept (`nbgrader generate_assignment`
    clears them too; the book does not)."""
    nb = copy.deepcopy(nb)
    resources: dict = {}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearMarkScheme()):
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb


def _lines(cell: NotebookNode) -> Iterator[tuple[str, bool]]:
    """Yields `(line, secret)` for the lines of a source cell; the delimiter lines are skipped.
    A solution cell without delimiters (a written answer) is secret as a whole."""
    whole = nbgrader_utils.is_solution(cell) and not any(begin in cell.source for begin, _ in SECRET_REGIONS)
    end = None
    for line in cell.source.splitlines():
        if end is None:
            end = next((e for b, e in SECRET_REGIONS if b in line), None)
            if end is None:
                yield line, whole
        elif end in line:
            end = None
        else:
            yield line, True


def leaked_lines(source: NotebookNode, view: NotebookNode) -> list[str]:
    """The lines of `source`'s solutions and hidden tests that appear in the cells of `view`
    (stripped; lines that also appear outside the secret regions of `source` do not count)."""
    secret, public = set(), {""}
    for cell in source.cells:
        for line, is_secret in _lines(cell):
            (secret if is_secret else public).add(line.strip())
    shown = {line.strip() for cell in view.cells for line in cell.source.splitlines()}
    return sorted(shown & (secret - public))


def check_no_leaks(source: NotebookNode, view: NotebookNode, name: str) -> None:
    """Raises `RuntimeError` naming the lines when `leaked_lines` finds any."""
    leaked = leaked_lines(source, view)
    if leaked:
        raise RuntimeError(f"{name}: the student view still shows solution or hidden-test lines: {leaked}")


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Sets (a string) or unsets (None) environment variables inside the block and restores
    them after it. Kernels started inside inherit them: this is how fast mode reaches them."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fast_mode_env(fast: bool) -> dict[str, str | None]:
    """The environment for a kernel in fast mode (`VAELAB_FAST=1`) or in full mode (neither
    `VAELAB_FAST` nor `NBGRADER_EXECUTION` set)."""
    return {"VAELAB_FAST": "1"} if fast else {"VAELAB_FAST": None, "NBGRADER_EXECUTION": None}


def chapter_sources(solutions: str | os.PathLike) -> dict[str, Path]:
    """`{chapter name: path}` for the source notebooks `solutions/NN_name.ipynb`, sorted."""
    return {path.stem: path for path in sorted(Path(solutions).glob("*.ipynb"))}
