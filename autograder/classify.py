"""Classification: from what happened while a notebook ran to its status, notes and mistakes.

`classify(report, executed, cells, ...)` is a pure function of the execution report
(`autograder.report.ExecutionReport`), the executed notebook (its error outputs) and the
scores: no kernel, no file, no nbgrader. It decides

- the **status** (first that applies): `memory` (an out-of-memory error in a cell); `timeout`
  (the kernel was killed by the CPU-time limit); `crashed` (the kernel died); `timeout` (a cell
  or the notebook ran past its time limit); `missing_cells` (answer or test cells deleted);
  `graded`;
- the **notes** the feedback and `grades.csv` show (limits reached, truncated output, the
  test machinery restored or tampered with, functions that are not defined);
- the **named mistake** of each failed test cell: the first line of its error, or why it
  could not pass (the cell was deleted, the function is not defined and why).

`message` builds the `message` column from the notes and the scores.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field

from nbformat import NotebookNode

from .notebooks import cell_label, error_outputs, first_line
from .report import GRADER_ERRORS, ExecutionReport
from .result import CellScore
from .sandbox import Limits, gib

#: Error outputs that mean "out of memory".
MEMORY_ERRORS = re.compile(
    r"MemoryError|OutOfMemoryError|can't allocate memory|"
    r"Cannot allocate memory|std::bad_alloc|out of memory"
)
#: A test that failed because the function it tests does not exist.
UNDEFINED = re.compile(r"NameError: name '(\w+)' is not defined")
#: The most characters of a named mistake that the results, the gradebook and the pages keep.
MISTAKE_CHARS = 500
#: Notes that go to the end of the message (they say something about the run, not the answers).
LATE_NOTES = ("kernel:", "review:")


@dataclass
class Verdict:
    """What `classify` decides."""

    status: str
    notes: list[str] = field(default_factory=list)
    mistakes: dict[str, str] = field(default_factory=dict)


def classify(
    report: ExecutionReport,
    executed: NotebookNode,
    cells: list[CellScore],
    *,
    functions: list[str],
    missing: list[str],
    limits: Limits,
) -> Verdict:
    """The status, notes and named mistakes of one run (see the module docstring). `functions`
    are the chapter's exercise functions, `missing` the answer and test cells deleted."""
    by_label = {cell_label(c, i): c for i, c in enumerate(executed.cells)}
    notes = []
    if report.library_changed:
        notes.append("tampering: the notebook modified the course library the tests import; no autograded points")
    mistakes = named_mistakes(cells, by_label, missing)
    notes += undefined_functions(mistakes, by_label, functions, missing)
    memory = [
        label
        for label, cell in by_label.items()
        if any(
            MEMORY_ERRORS.search(f"{o.get('ename')}: {o.get('evalue')}")
            for o in error_outputs(cell)
            if o.get("ename") not in GRADER_ERRORS
        )
    ]
    if memory:
        notes.append(f"memory: out of memory (limit {gib(limits.memory_limit)}) in {', '.join(memory)}")
    notes += run_notes(report, limits)
    death = report.kernel_death
    status = (
        "memory"
        if memory
        else "timeout"
        if death and death.signal == signal.SIGXCPU  # RLIMIT_CPU
        else "crashed"
        if death
        else "timeout"
        if report.timed_out or report.notebook_timeout
        else "missing_cells"
        if missing
        else "graded"
    )
    return Verdict(status, notes, mistakes)


def named_mistakes(cells: list[CellScore], by_label: dict[str, NotebookNode], missing: list[str]) -> dict[str, str]:
    """`{grade_id: mistake}` of the failed test cells: the first line of the cell's first error,
    or that the cell was deleted."""
    mistakes = {}
    for cell in cells:
        if cell.kind != "auto" or cell.passed:
            continue
        errors = error_outputs(by_label[cell.grade_id]) if cell.grade_id in by_label else []
        if errors:  # bounded: it goes into every row of the gradebook and summary.html
            mistakes[cell.grade_id] = first_line(errors[0])[:MISTAKE_CHARS]
        elif cell.grade_id in missing:
            mistakes[cell.grade_id] = "the test cell was deleted"
    return mistakes


def undefined_functions(
    mistakes: dict[str, str], by_label: dict[str, NotebookNode], functions: list[str], missing: list[str]
) -> list[str]:
    """Rewrites, in `mistakes`, a test's NameError on an exercise function into why it is not
    defined (its answer cell deleted or failed, or the function renamed); returns the notes."""
    notes, undefined = [], []
    for test, mistake in mistakes.items():
        match = UNDEFINED.match(mistake)
        if not match or match[1] not in functions or match[1] in undefined:
            continue
        name = match[1]
        undefined.append(name)
        answer = by_label.get(name)
        failed = answer is not None and (
            error_outputs(answer) or not answer.get("outputs") and answer.get("execution_count") is None
        )
        why = (
            "its answer cell was deleted"
            if name in missing
            else "its answer cell failed (see its error in the feedback)"
            if failed
            else "did you rename it?"
        )
        mistakes[test] = f"function {name} is not defined: {why}"
        notes.append(f"function {name} is not defined: {why}")
    return notes


def run_notes(report: ExecutionReport, limits: Limits) -> list[str]:
    """The notes about the run itself: the kernel's death, time limits, truncated output, the
    test machinery restored or tampered with."""
    notes = []
    death = report.kernel_death
    if death:
        notes.append(f"crashed: the kernel died in {death.cell}: {death.how}; the cells after it were not run")
    if report.timed_out:
        notes.append(
            f"timed out (limits: {limits.timeout} s per cell, "
            f"{limits.notebook_timeout} s per notebook): {', '.join(report.timed_out)}"
        )
    if report.unresponsive:
        notes.append(
            f"the kernel did not stop when interrupted in {report.unresponsive}: "
            "it was shut down and the cells after it were not run"
        )
    if report.notebook_timeout:
        notes.append(
            f"notebook time limit ({limits.notebook_timeout} s) reached"
            + (f"; not run: {', '.join(report.not_run)}" if report.not_run and not death else "")
        )
    if report.truncated:
        notes.append(f"output truncated (more than {limits.max_output_bytes} bytes) in {', '.join(report.truncated)}")
    if report.restored:
        notes.append("tampering: restored before the tests: " + ", ".join(report.restored))
    for item in report.tampering:
        notes.append(f"tampering: {', '.join(item.changed)} changed while {item.cell} ran: no points for it")
    return notes


def message(missing: list[str], notes: list[str], cells: list[CellScore]) -> str:
    """The `message` column: the missing cells, the notes (those about the run last), the
    failed tests."""
    failed = [c.grade_id for c in cells if c.kind == "auto" and not c.passed and c.grade_id not in missing]
    parts = [f"missing cells: {', '.join(missing)}" if missing else ""]
    parts += [n for n in notes if not n.startswith(LATE_NOTES)]
    parts += [n for n in notes if n.startswith(LATE_NOTES)]
    parts.append(f"failed: {', '.join(failed)}" if failed else "")
    return "; ".join(p for p in parts if p)
