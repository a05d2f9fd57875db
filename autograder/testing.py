"""Helpers for end-to-end tests of grading, for the toy notebook and for the real chapters.

A test builds submissions from a source notebook, grades them like the instructor would, and
reads the CSV files::

    from autograder import testing

    source = testing.read_notebook("solutions/01_vae.ipynb")
    wrong = testing.make_submission(source, {
        "kl_normal": "def kl_normal(qm, qv, pm, pv):\\n    return 2 * reference(qm, qv, pm, pv)"})
    testing.write_submissions(tmp_path / "in", {"alice": {"01_vae": wrong}})
    grades, cells = testing.run_grade(tmp_path / "in", tmp_path / "out", solutions="solutions")
    assert grades["alice", "01_vae"]["status"] == "graded"
    assert cells["alice", "01_vae", "test_kl_normal"]["score"] == "0"
    assert "off by a factor of 2" in testing.feedback(tmp_path / "out", "alice", "01_vae")
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import os
from pathlib import Path

from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from . import notebooks
from .notebooks import SECRET_REGIONS

read_notebook = notebooks.read


def reference_answer(cell: NotebookNode) -> str:
    """The answer that a student who wrote the reference solution types in an answer cell: the
    cell's source without the BEGIN/END SOLUTION lines (a written answer as it is)."""
    begin, end = SECRET_REGIONS[0]
    return "\n".join(line for line in cell.source.split("\n") if begin not in line and end not in line)


def make_submission(
    source: NotebookNode, replacements: dict[str, str] | None = None, answered: bool = True
) -> NotebookNode:
    """A submission built from the source notebook `source`: the student view (stubs, no hidden
    tests, no outputs), every answer cell holding the reference answer (or the stub, when not
    `answered`), then the cells named in `replacements` ({grade_id: new source}) replaced.
    An unknown grade_id raises KeyError."""
    submission = notebooks.student_view(source)
    by_id = {notebooks.grade_id(cell): cell for cell in submission.cells}
    for original, cell in zip(source.cells, submission.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if answered and nbgrader_utils.is_solution(original):
            cell.source = reference_answer(original)
    for grade_id, new_source in (replacements or {}).items():
        if grade_id is None or grade_id not in by_id:
            raise KeyError(f"no cell with grade_id {grade_id!r}")
        by_id[grade_id].source = new_source
    return submission


def without_cells(nb: NotebookNode, *grade_ids: str) -> NotebookNode:
    """A copy of `nb` without the cells named `grade_ids` (a student who deleted them)."""
    nb = copy.deepcopy(nb)
    nb.cells = [cell for cell in nb.cells if notebooks.grade_id(cell) not in grade_ids]
    return nb


def write_submissions(root: str | os.PathLike, submissions: dict[str, dict[str, NotebookNode | str | bytes]]) -> Path:
    """Writes `{student: {file stem: notebook, or raw text/bytes}}` as root/<student>/<stem>.ipynb
    and returns `root`."""
    root = Path(root)
    for student, files in submissions.items():
        for stem, content in files.items():
            path = root / student / f"{stem}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, NotebookNode):
                notebooks.write(content, path)
            else:
                path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def run_grade(
    submissions: str | os.PathLike,
    out: str | os.PathLike,
    solutions: str | os.PathLike,
    timeout: int = 180,
    options: tuple[str, ...] = (),
):
    """Runs `python -m autograder grade` in-process (with the command-line `options`, e.g.
    `("--jobs", "2")`) and returns `(grades, cells, printed)`: the rows of grades.csv keyed by
    (student, chapter), those of scores_by_function.csv keyed by (student, chapter, grade_id),
    and what the command printed."""
    from .cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            [
                "grade",
                str(submissions),
                "--out",
                str(out),
                "--solutions",
                str(solutions),
                "--timeout",
                str(timeout),
                *options,
            ]
        )
    assert code == 0, printed.getvalue()
    grades = {(r["student"], r["chapter"]): r for r in read_csv(Path(out) / "grades.csv")}
    cells = {(r["student"], r["chapter"], r["grade_id"]): r for r in read_csv(Path(out) / "scores_by_function.csv")}
    return grades, cells, printed.getvalue()


def feedback(out: str | os.PathLike, student: str, chapter: str) -> str:
    """The feedback HTML written for one submission."""
    return (Path(out) / "feedback" / student / f"{chapter}.html").read_text(encoding="utf-8")


async def _run_code(box, code: str, environment: dict[str, str], timeout: float) -> list[str]:
    from .sandbox import SandboxedKernelManager

    manager = SandboxedKernelManager(**box.kernel_settings(), kernel_environment=environment)
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    printed: list[str] = []

    def keep(message):
        if message["msg_type"] == "stream":
            printed.extend(message["content"]["text"].splitlines())
        elif message["msg_type"] == "error":
            printed.append("ERROR " + message["content"]["ename"] + ": " + message["content"]["evalue"])

    try:
        await client.wait_for_ready(timeout=60)
        await client.execute_interactive(code, output_hook=keep, timeout=timeout)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return printed


def run_code(box, code: str, environment: dict[str, str] | None = None, timeout: float = 60) -> list[str]:
    """Runs `code` in a kernel started in the sandbox `box` (a `sandbox.Sandbox`) as grading starts
    one, with the extra `environment`; returns the lines it printed (an error as `ERROR name:
    value`). The chapter then ends as in grading (`Sandbox.end`). Raises `TimeoutError` when the
    code runs past `timeout` seconds (a kernel stopped in the middle, say)."""
    import asyncio

    try:
        return asyncio.run(_run_code(box, code, environment or {}, timeout))
    finally:
        box.end()
