"""The student's self-check: ``python -m autograder check chapters/NN_name.ipynb``.

Runs the student's saved notebook in fast mode (``VAELAB_FAST=1``), in its own folder, with the
student's Python kernel, **up to its last check cell** (the training and figures after it are not
needed to judge the exercises), and prints, as each check finishes, whether every exercise
function passes its visible checks, or the check's message. It then lists the written answers
still empty. Hidden tests are neither run nor shown (a notebook that holds some has them removed
first). Passing the visible checks does not guarantee full marks: the grader's hidden tests try
many more inputs.

Exit code: 0 when every function passes, 1 otherwise, 2 when the file is not a notebook.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

NOT_IMPLEMENTED = "NotImplementedError"
HIDDEN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS.*?^[ \t]*#+[ \t]*END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
EMPTY_ANSWER = "YOUR ANSWER HERE"


@dataclass
class Verdict:
    """The self-check's verdict on one exercise function."""

    function: str
    verdict: str  # "passed", "failed" or "not run"
    message: str = ""


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_cells(nb) -> dict[str, int]:
    """``{function: cell index}`` of the autograded answer cells (solution, not a test)."""
    return {
        _grading(c)["grade_id"]: i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and _grading(c).get("solution") and not _grading(c).get("grade")
    }


def test_cells(nb, function: str) -> list[int]:
    """Indices of the visible check cells of ``function`` (``grade_id`` ``test_<function>[_...]``)."""
    out = []
    for i, cell in enumerate(nb.cells):
        grade_id = _grading(cell).get("grade_id", "")
        if (
            cell.cell_type == "code"
            and _grading(cell).get("grade")
            and not _grading(cell).get("solution")
            and (grade_id == f"test_{function}" or grade_id.startswith(f"test_{function}_"))
        ):
            out.append(i)
    return out


def empty_written_answers(nb) -> list[str]:
    """The written (hand-graded) answers that still hold the placeholder."""
    return [
        _grading(c).get("grade_id", f"cell {i}")
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown" and _grading(c).get("solution") and EMPTY_ANSWER in c.source
    ]


def _first_error(cells) -> str | None:
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if output.get("ename") == NOT_IMPLEMENTED:
                    return "not implemented yet (the cell still raises NotImplementedError)"
                value = (output.get("evalue") or "").strip().splitlines()
                return f"{output.get('ename')}: {value[0]}" if value else str(output.get("ename"))
    return None


def verdict(nb, function: str, answer: int, tests: list[int], ran: set[int]) -> Verdict:
    """The verdict on ``function`` once its answer and check cells ran (or did not)."""
    error = _first_error([nb.cells[answer]] + [nb.cells[i] for i in tests])
    if error is not None:
        return Verdict(function, "failed", error)
    if not tests:
        return Verdict(function, "passed", "no visible check for it")
    if not all(i in ran for i in tests):
        return Verdict(function, "not run")
    return Verdict(function, "passed")


def _prepare(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = HIDDEN.sub("", cell.source)
            cell.outputs, cell.execution_count = [], None
    return nb


def run(nb, folder: Path, timeout: int | None, report) -> tuple[set[int], str]:
    """Execute the cells up to the last check cell; ``report(i)`` after each. Returns the indices that
    ran and a note (kernel death, time-out) or ''."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    checks = [i for f in answer_cells(nb) for i in test_cells(nb, f)]
    last = max(checks + list(answer_cells(nb).values()) + [-1])
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    ran: set[int] = set()
    note = ""
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells[: last + 1]):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, i)
            except CellTimeoutError:
                note = f"cell {i} ran past the time limit ({timeout} s); the cells after it did not run"
                break
            except DeadKernelError:
                note = f"the kernel died in cell {i}; the cells after it did not run"
                break
            ran.add(i)
            report(i)
    return ran, note


def check(path: Path, timeout: int | None = 600) -> int:
    """Run the self-check of the notebook at ``path``, printing as it goes; return the exit code."""
    try:
        nb = _prepare(nbformat.read(os.fspath(path), as_version=4))
    except Exception as error:  # not JSON, not a notebook
        print(f"error: {path} is not a notebook: {error}")
        return 2
    answers = answer_cells(nb)
    tests = {f: test_cells(nb, f) for f in answers}
    width = max([len(f) for f in answers] + [8])
    print(
        f"{path.name}: running the notebook in fast mode up to its last check (the hidden tests run only "
        "when your instructor grades it) ...",
        flush=True,
    )
    printed: set[str] = set()
    ran_so_far: set[int] = set()

    def report(i: int) -> None:
        ran_so_far.add(i)
        for function, answer in answers.items():
            cells = tests[function] or [answer]
            if function not in printed and i == max(cells):
                v = verdict(nb, function, answer, tests[function], ran_so_far)
                print(f"  {function:<{width}}  {v.verdict}" + (f": {v.message}" if v.message else ""), flush=True)
                printed.add(function)

    with _environment(VAELAB_FAST="1"):
        ran, note = run(nb, path.resolve().parent, timeout, report)
    results = [verdict(nb, f, a, tests[f], ran) for f, a in answers.items()]
    for v in results:
        if v.function not in printed:
            print(f"  {v.function:<{width}}  {v.verdict}" + (f": {v.message}" if v.message else ""))
    if note:
        print(f"note: {note}")
    empty = empty_written_answers(nb)
    if empty:
        print(f"note: {len(empty)} written answer(s) still empty: {', '.join(empty)}")
    passed = sum(v.verdict == "passed" for v in results)
    status = "all visible checks pass" if passed == len(results) else "some visible checks fail"
    print(f"visible checks: {passed} of {len(results)} functions pass: {status}")
    return 0 if passed == len(results) else 1


class _environment:
    """Set environment variables for the kernel started inside, restoring them after."""

    def __init__(self, **values: str):
        self.values, self.saved = values, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in [*self.values, "NBGRADER_EXECUTION"]}
        os.environ.update(self.values)
        os.environ.pop("NBGRADER_EXECUTION", None)  # the student's run is not the grader's

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
