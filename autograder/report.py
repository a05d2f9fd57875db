"""What happened while a notebook ran: `ExecutionReport`, written by `autograder.execute` and read
by `autograder.classify`, and the error outputs that the grader itself writes into a cell.

The report travels from nbgrader's execution step to the grader through a JSON file (the
notebook's metadata does not survive nbgrader's later steps): `save` / `load`.
"""

from __future__ import annotations

import json
import signal as signals
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbformat import NotebookNode

#: The error outputs the grader writes (`ename`), so that a cell that could not run scores 0
#: (nbgrader gives full marks to a test cell without an error output).
DEAD_KERNEL = "DeadKernelError"  # the kernel died in this cell
NOTEBOOK_TIMEOUT = "NotebookTimeout"  # not run: the notebook was out of time
TAMPERING = "TamperingError"  # the test machinery was modified while this test ran
CELL_TIMEOUT = "CellTimeoutError"  # the cell ran past its limit (nbclient writes it too)
GRADER_ERRORS = (DEAD_KERNEL, NOTEBOOK_TIMEOUT, TAMPERING, CELL_TIMEOUT)

#: What a kernel killed by a signal most likely met.
SIGNAL_HINTS = {
    "SIGKILL": " (killed: out of memory, or the code killed its own process)",
    "SIGXCPU": " (the CPU-time limit)",
    "SIGSEGV": " (a crash in compiled code, often after running out of memory)",
    "SIGABRT": " (aborted, often after running out of memory)",
}


@dataclass(frozen=True)
class KernelDeath:
    """The kernel died while running `cell`: its exit `code`, or the `signal` that killed it."""

    cell: str
    code: int | None
    signal: int | None
    how: str


@dataclass(frozen=True)
class Tampering:
    """Functions of the test machinery (`changed`) were replaced while the test `cell` ran."""

    cell: str
    changed: list[str]


@dataclass(frozen=True)
class Judgement:
    """The grader's verdict on one test cell, from the observation it sent (`autograder.judge`):
    `message` says why it failed ("" when it passed, or when the cell's own error says it), or
    why a cell that failed in the notebook earns its points after all (`restored`: it is right
    with correct helpers)."""

    grade_id: str
    passed: bool
    message: str = ""
    restored: bool = False


@dataclass
class ExecutionReport:
    """Everything that happened while a notebook ran, cell labels as `notebooks.cell_label`
    gives them: cells past their time limit (`timed_out`), not run because the notebook was out
    of time or the kernel had died (`not_run`), whose output was truncated (`truncated`), the
    test machinery restored before the tests (`restored`) or found replaced during one
    (`tampering`), the kernel's death, whether the notebook ran out of time, the cell whose
    kernel ignored the interrupt (`unresponsive`), the guard's state, the seconds taken, and
    whether the course library changed on disk while it ran."""

    timed_out: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    tampering: list[Tampering] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    kernel_death: KernelDeath | None = None
    notebook_timeout: bool = False
    unresponsive: str | None = None
    guard: str = "off"
    seconds: float = 0.0
    library_changed: bool = False  # set by the grader after the run (`Sandbox.library_changed`)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ExecutionReport:
        death = data.get("kernel_death")
        return cls(
            **{
                **data,
                "kernel_death": KernelDeath(**death) if death else None,
                "tampering": [Tampering(**t) for t in data.get("tampering", [])],
            }
        )


def save(path: Path, report: ExecutionReport) -> None:
    path.write_text(json.dumps(report.to_json(), indent=1))


def load(path: Path) -> ExecutionReport:
    """The report at `path`; an empty one when the execution step never wrote it."""
    if not path.exists():
        return ExecutionReport()
    return ExecutionReport.from_json(json.loads(path.read_text()))


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An error output as the grader writes it into a cell."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def stream_output(text: str) -> NotebookNode:
    """A stdout output with `text`."""
    return NotebookNode(output_type="stream", name="stdout", text=text)


def describe_death(code: int | None, signal_number: int | None) -> str:
    """Why a kernel process ended, in words."""
    if signal_number is not None:
        try:
            name = signals.Signals(signal_number).name
        except ValueError:
            name = f"signal {signal_number}"
        return f"killed by {name}{SIGNAL_HINTS.get(name, '')}"
    if code is None:
        return "it stopped responding"
    return f"exited with code {code} (did the code call os._exit, sys.exit or exit()?)"
