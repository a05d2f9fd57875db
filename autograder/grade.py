"""One submission, graded by a short pipeline: pre-flight, run, classify, feedback.

    submission ──read_submission──▶ notebook ──preflight──▶ notes
        │                               │
        │                     run_submission (nbgrader in a course copy, kernel in a sandbox)
        │                               ▼
        │              Run: executed notebook, ExecutionReport, CellScores, nbgrader's page
        │                               │ classify (pure)
        ▼                               ▼
      Result ◀── status, notes, mistakes, message ──▶ feedback/<student>/<chapter>.html

`grade_one` returns the `Result` of one submission whatever happens: a file that is not a
notebook is `invalid`, a failure of the grader is `error`, and both get a page saying why. A
whole class (batches, resuming, workers, the database) is `autograder.batch`.

Statuses (`result.STATUSES`): `graded`; `missing_cells` (graded, but answer or test cells were
deleted: their tests score 0); `timeout` (graded, but a cell ran past `--timeout` or the
notebook past `--notebook-timeout`: the cells that did not finish score 0); `memory` (graded,
but the kernel, or the sandbox's processes together, ran out of memory); `crashed` (graded, but
the kernel died, e.g. `os._exit`: the cells after it were not run and score 0); `invalid` (not a
chapter notebook: not JSON, not nbformat 4, unknown file name or place); `error` (the grader
failed). A bad submission never stops the batch.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .classify import classify, message
from .course import NbgraderError
from .feedback import not_graded_page, summary_block, with_summary
from .files import write_atomic
from .inputs import Submission
from .preflight import InvalidSubmission, answer_ids, preflight, read_submission
from .result import Result
from .runner import Chapter, StudentSandbox, run_submission
from .sandbox import DESCRIPTIONS, DISK_LIMIT, MAX_PROCESSES, Limits

__all__ = ["Options", "grade_one", "grade_submission", "new_result"]


@dataclass
class Options:
    """How submissions are graded (see `python -m autograder grade --help`)."""

    timeout: int = 180
    notebook_timeout: int = 900
    memory_limit: int = 4 << 30
    max_output_bytes: int = 1_000_000
    max_processes: int = MAX_PROCESSES
    disk_limit: int = DISK_LIMIT
    isolation: str = "auto"
    jobs: int = 1
    force: bool = False
    db: str = ""
    shard: str = ""
    similarity_threshold: float | None = None  # the class's similarity report; None: its default

    def limits(self) -> Limits:
        return Limits(
            self.timeout,
            self.notebook_timeout,
            self.memory_limit,
            self.max_output_bytes,
            self.max_processes,
            self.disk_limit,
        )


def new_result(submission: Submission, chapter: Chapter | None, status: str, message_text: str = "") -> Result:
    """A result without scores yet; the maxima come from the chapter, when it is known."""
    result = Result(
        submission.student, submission.chapter, status, message_text, name=submission.name, file=submission.file
    )
    if chapter is not None:
        result.max_score, result.manual_max = chapter.max_score, chapter.manual_max
        result.functions = list(chapter.functions)
    return result


def feedback_path(out: Path, result: Result) -> Path:
    return out / "feedback" / result.student / f"{result.chapter}.html"


def grade_submission(
    submission: Submission, chapter: Chapter, out: Path, options: Options, students: StudentSandbox | None = None
) -> Result:
    """Autogrades one valid-looking submission (see the module docstring), in the student's
    sandbox `students` when there is one; writes its feedback and log under `out`. Raises
    `InvalidSubmission`, or anything else on a failure (the caller reports it)."""
    result = new_result(submission, chapter, "graded")
    result.isolation = options.isolation
    submitted = read_submission(submission.path)
    notes = preflight(submitted, chapter.released, set(chapter.cells))
    run = run_submission(
        submitted,
        chapter,
        options.isolation,
        options.limits(),
        out / "logs" / submission.student / f"{chapter.name}.log",
        students.box(chapter.name) if students is not None else None,
    )
    result.cells = run.cells
    missing = sorted(chapter.answers - answer_ids(submitted))
    verdict = classify(
        run.report, run.executed, run.cells, functions=chapter.functions, missing=missing, limits=options.limits()
    )
    notes += verdict.notes + run.limit_notes
    result.status, result.mistakes = verdict.status, verdict.mistakes
    if any(note.startswith("memory: the sandbox") for note in run.limit_notes) and result.status != "timeout":
        result.status = "memory"  # a process of the sandbox was killed for the memory of all of them
    result.message = message(missing, notes, run.cells)
    result.notes = notes + [f"isolation: {DESCRIPTIONS[options.isolation]}", f"limits: {run.held}"]
    write_atomic(feedback_path(out, result), with_summary(run.page, summary_block(result)))
    return result


def grade_one(
    submission: Submission,
    chapter: Chapter | Exception | None,
    out: Path,
    options: Options,
    digest: str,
    students: StudentSandbox | None = None,
) -> Result:
    """The result of one submission, whatever happens (invalid, error included), with its
    feedback page written; `digest` is recorded in it. `chapter` is the prepared chapter, the
    error that preparing it raised, or None for a file of no chapter; `students` the sandbox
    shared by the student's chapters (`runner.StudentSandbox`), if any."""
    start = time.monotonic()
    known = chapter if isinstance(chapter, Chapter) else None
    try:
        if submission.problem:
            raise InvalidSubmission(submission.problem)
        if isinstance(chapter, Exception):
            raise RuntimeError(f"cannot prepare the chapter: {chapter}")
        result = grade_submission(submission, chapter, out, options, students)
    except InvalidSubmission as error:
        result = new_result(submission, known, "invalid", str(error))
    except Exception as error:
        text = (
            str(error)
            if isinstance(error, NbgraderError)
            else (traceback.format_exception_only(type(error), error)[-1].strip())
        )
        result = new_result(submission, known, "error", text)
    result.digest = digest
    result.seconds = round(time.monotonic() - start, 1)
    if not result.graded:
        write_not_graded_page(out, result)
    return result


def write_not_graded_page(out: Path, result: Result) -> None:
    """The page of a file that was not graded, saying why (none for a file outside any
    student's folder)."""
    if result.student:
        write_atomic(feedback_path(out, result), not_graded_page(result))
