"""`autograder.classify` without a kernel: executed notebooks and execution reports built by hand,
as nbgrader and `GuardedExecute` would leave them, and the status, notes and named mistakes
that grading must derive from them. Also the result and report types' stored form."""

from __future__ import annotations

import json
import signal

import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook

from autograder import report as report_io
from autograder import result as result_io
from autograder.classify import classify, message
from autograder.report import ExecutionReport, KernelDeath, Tampering, error_output
from autograder.result import CellScore, Result
from autograder.sandbox import Limits

LIMITS = Limits(timeout=5, notebook_timeout=8, memory_limit=2 << 30, max_output_bytes=100 << 10)
FUNCTIONS = ["add", "square"]


def cell(grade_id: str | None, *errors: tuple[str, str], answer: bool = False, ran: bool = True) -> NotebookNode:
    """An executed code cell; `errors` are `(ename, evalue)` outputs."""
    code = new_code_cell("pass", execution_count=1 if ran else None)
    if grade_id:
        code.metadata["nbgrader"] = {"grade_id": grade_id, "solution": answer, "grade": not answer}
    code.outputs = [error_output(e, v) for e, v in errors]
    return code


def notebook(*cells: NotebookNode) -> NotebookNode:
    return new_notebook(cells=list(cells))


def scores(add: float = 2, square: float = 3) -> list[CellScore]:
    return [
        CellScore("test_add", "auto", add, 2),
        CellScore("test_square", "auto", square, 3),
        CellScore("question_symmetry", "manual", None, 1),
    ]


def run(report=None, executed=None, cells=None, missing=()):
    return classify(
        report or ExecutionReport(),
        executed or notebook(),
        cells or scores(),
        functions=FUNCTIONS,
        missing=list(missing),
        limits=LIMITS,
    )


def test_a_clean_run_is_graded_with_no_notes():
    verdict = run(executed=notebook(cell("add", answer=True), cell("test_add")))
    assert (verdict.status, verdict.notes, verdict.mistakes) == ("graded", [], {})


def test_a_failed_test_is_named_by_the_first_line_of_its_error():
    executed = notebook(cell("test_square", ("AssertionError", "square(-2) returned -4\nmore")))
    verdict = run(executed=executed, cells=scores(square=0))
    assert verdict.status == "graded"
    assert verdict.mistakes == {"test_square": "AssertionError: square(-2) returned -4"}
    assert message([], verdict.notes, scores(square=0)) == "failed: test_square"


@pytest.mark.parametrize(
    "answer, missing, why",
    [
        (cell("square", answer=True), (), "did you rename it?"),
        (cell("square", ("ValueError", "bad"), answer=True), (), "its answer cell failed"),
        (cell("square", answer=True, ran=False), (), "its answer cell failed"),
        (cell("other"), ("square",), "its answer cell was deleted"),
    ],
)
def test_an_undefined_function_says_why(answer, missing, why):
    executed = notebook(answer, cell("test_square", ("NameError", "name 'square' is not defined")))
    verdict = run(executed=executed, cells=scores(square=0), missing=missing)
    assert why in verdict.mistakes["test_square"]
    assert verdict.mistakes["test_square"].startswith("function square is not defined: ")
    assert verdict.notes == [verdict.mistakes["test_square"]]
    assert verdict.status == ("missing_cells" if missing else "graded")


def test_a_name_error_on_something_else_is_left_as_it_is():
    executed = notebook(cell("test_add", ("NameError", "name 'np' is not defined")))
    verdict = run(executed=executed, cells=scores(add=0))
    assert verdict.mistakes == {"test_add": "NameError: name 'np' is not defined"}


def test_a_deleted_test_cell_is_named():
    verdict = run(cells=scores(square=0), missing=["test_square"])
    assert verdict.status == "missing_cells"
    assert verdict.mistakes == {"test_square": "the test cell was deleted"}
    # a deleted test is reported as missing, not as failed
    assert message(["test_square"], [], scores(square=0)) == "missing cells: test_square"


def test_out_of_memory_beats_a_crash_and_names_the_limit():
    executed = notebook(cell("add", ("MemoryError", ""), answer=True))
    death = KernelDeath("square", None, signal.SIGKILL, "killed by SIGKILL")
    verdict = run(ExecutionReport(kernel_death=death), executed)
    assert verdict.status == "memory"
    assert "memory: out of memory (limit 2 GiB) in add" in verdict.notes


def test_the_graders_own_errors_are_not_out_of_memory():
    how = "killed by SIGKILL (killed: out of memory, or the code killed its own process)"
    executed = notebook(cell("add", ("DeadKernelError", f"the kernel died: {how}"), answer=True))
    verdict = run(ExecutionReport(kernel_death=KernelDeath("add", None, signal.SIGKILL, how)), executed)
    assert verdict.status == "crashed"
    assert verdict.notes == [f"crashed: the kernel died in add: {how}; the cells after it were not run"]


@pytest.mark.parametrize(
    "report, status",
    [
        (ExecutionReport(kernel_death=KernelDeath("add", None, signal.SIGXCPU, "cpu")), "timeout"),
        (ExecutionReport(kernel_death=KernelDeath("add", 1, None, "exited")), "crashed"),
        (ExecutionReport(timed_out=["add"]), "timeout"),
        (ExecutionReport(notebook_timeout=True, not_run=["square"]), "timeout"),
        (ExecutionReport(truncated=["add"]), "graded"),
    ],
)
def test_the_status_of_each_way_a_run_can_end(report, status):
    assert run(report).status == status


def test_run_notes_name_limits_and_tampering():
    report = ExecutionReport(
        timed_out=["add"],
        unresponsive="add",
        notebook_timeout=True,
        not_run=["test_add"],
        truncated=["square"],
        restored=["x.f"],
        tampering=[Tampering("test_square", ["y.g"])],
        library_changed=True,
    )
    notes = run(report).notes
    assert notes == [
        "tampering: the notebook modified the course library the tests import; no autograded points",
        "timed out (limits: 5 s per cell, 8 s per notebook): add",
        "the kernel did not stop when interrupted in add: it was shut down and the cells after it were not run",
        "notebook time limit (8 s) reached; not run: test_add",
        "output truncated (more than 102400 bytes) in square",
        "tampering: restored before the tests: x.f",
        "tampering: y.g changed while test_square ran: no points for it",
    ]


def test_the_message_puts_notes_about_the_run_last():
    notes = ["review: add uses ctypes", "kernel: another kernel", "tests_edited: test_add"]
    assert message(["add"], notes, scores(add=0)) == (
        "missing cells: add; tests_edited: test_add; review: add uses ctypes; kernel: another kernel; failed: test_add"
    )


def test_a_result_round_trips_through_its_stored_form(tmp_path):
    result = Result(
        "ada",
        "00_toy",
        "graded",
        cells=scores(square=1),
        max_score=5,
        manual_max=1,
        mistakes={"test_square": "AssertionError: no"},
        digest="abc",
    )
    data = result.to_json()
    assert data["cells"][1] == ["test_square", "auto", 1, 3] and data["score"] == 3
    result_io.save(tmp_path / "r.json", result)
    assert result_io.load(tmp_path / "r.json") == result
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 3
    assert result_io.load(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text('{"student": "ada", "cells": [[1]]}')
    assert result_io.load(tmp_path / "bad.json") is None
    assert result.row()["score"] == "3" and result.cell_rows()[2]["score"] == ""


def test_an_execution_report_round_trips_through_json(tmp_path):
    report = ExecutionReport(
        kernel_death=KernelDeath("add", None, 9, "killed"), tampering=[Tampering("t", ["a.b"])], truncated=["add"]
    )
    report_io.save(tmp_path / "report.json", report)
    assert report_io.load(tmp_path / "report.json") == report
    assert report_io.load(tmp_path / "none.json") == ExecutionReport()
