"""The run stage: a submission autograded by nbgrader, in a copy of its chapter's course, its
kernel in a `autograder.sandbox.Sandbox`.

- `prepare_chapter`: a chapter's course, where `generate_assignment` ran once (`Chapter`);
- `run_submission`: one notebook run and scored in a copy of it; returns a `Run` (the executed
  notebook, the execution report, the score of every graded cell, nbgrader's feedback page) and
  writes the log for the instructor.

What the run means (status, notes, mistakes) is `autograder.classify`'s business.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from . import notebooks, report
from .course import Course
from .files import digest, write_atomic
from .judge import (
    SUBSTITUTES,
    Judge,
    again,
    observed_cells,
    read_observations,
    record_expected,
    second_runs,
    unwritten,
    wrong_helpers,
)
from .preflight import answer_ids, drop_duplicate_ids
from .report import ExecutionReport, Judgement
from .result import CellScore
from .sandbox import DESCRIPTIONS, Limits, Sandbox, gib, short_tmp
from .zygote import MIN_SHARED_MEMORY, ZygoteError

#: The kernel's environment while grading: fast mode, and nbgrader's marker, under which
#: `vaelab.train.steps_for` trains `vaelab.train.GRADING_STEPS` steps per model.
GRADING_ENVIRONMENT = {"VAELAB_FAST": "1", "NBGRADER_EXECUTION": "autograde"}


@dataclass
class Chapter:
    """A chapter ready for grading: `template` is a course where its assignment is generated;
    `cells` maps each graded cell's grade_id to `(kind, points)`; `answers` are the grade_ids
    that a submission must still contain (graded and answer cells); `functions` the grade_ids
    of the answer code cells; `released` the student notebook; `digest` the hash of the source
    notebook and of the course library."""

    name: str
    template: Path
    cells: dict[str, tuple[str, float]]
    answers: set[str]
    functions: list[str]
    released: NotebookNode
    digest: str
    observed: dict[str, str] = field(default_factory=dict)  # test cell's grade_id -> the exercise it observes
    expected: Path | None = None  # the expected observations on the grading inputs (`judge.record_expected`)

    @property
    def max_score(self) -> float:
        return sum(p for kind, p in self.cells.values() if kind == "auto")

    @property
    def manual_max(self) -> float:
        return sum(p for kind, p in self.cells.values() if kind == "manual")


def prepare_chapter(solution: Path, workdir: Path, dependencies: str = "") -> Chapter:
    """Runs `generate_assignment` for `solution` once, in `workdir/<chapter>`."""
    template = workdir / solution.stem
    template.mkdir(parents=True)
    released = Course(template).generate_assignment(solution)
    functions = [
        cell.metadata.nbgrader["grade_id"]
        for cell in released.cells
        if cell.cell_type == "code" and nbgrader_utils.is_solution(cell) and not nbgrader_utils.is_grade(cell)
    ]
    observed = observed_cells(notebooks.read(solution).cells)
    expected = workdir / f"{solution.stem}.expected.pt"  # outside the course, which sandboxes copy
    record_expected(sorted(set(observed.values())), expected)
    return Chapter(
        solution.stem,
        template,
        notebooks.graded_cells(released),
        answer_ids(released),
        functions,
        released,
        digest(solution.read_bytes(), dependencies.encode()),
        observed,
        expected,
    )


@dataclass
class Run:
    """One notebook run and scored (see the module docstring)."""

    executed: NotebookNode
    report: ExecutionReport
    cells: list[CellScore]
    page: str
    held: str = ""  # the limits that held (`Sandbox.held`)
    limit_notes: list[str] = field(default_factory=list)  # the sandbox's limits reached


def _cell_scores(chapter: Chapter, scores: dict, library_changed: bool) -> list[CellScore]:
    """The score of each graded cell of `chapter`, from nbgrader's `scores`; no autograded point
    when the course library changed while the notebook ran."""
    cells = []
    for grade_id, (kind, points) in chapter.cells.items():
        score = scores.get(grade_id, (None, points))[0]  # None: waits for a human grader
        if kind == "auto":
            score = 0.0 if library_changed else (score or 0.0)
        cells.append(CellScore(grade_id, kind, score, points))
    return cells


class StudentSandbox:
    """The sandbox in which a worker grades one student's chapters, in chapter order
    (`Sandbox.open_shared`: one zygote forks every chapter's kernel), opened for the first chapter
    and opened anew after a chapter that ended it. `box` is None where kernels are not forked:
    without bubblewrap, or under a memory limit too small for the zygote (`MIN_SHARED_MEMORY`)."""

    def __init__(self, isolation: str, limits: Limits):
        memory = limits.memory_limit
        self.shared = isolation == "bwrap" and (memory == 0 or memory >= MIN_SHARED_MEMORY)
        self.limits = limits
        self._current: contextlib.ExitStack | None = None
        self._box: Sandbox | None = None

    def __enter__(self) -> StudentSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        if self._current is not None:
            self._current.close()
        self._current = self._box = None

    def box(self, chapter: str) -> Sandbox | None:
        """The shared sandbox, ready for `chapter` (`Sandbox.next_chapter`), or None."""
        if not self.shared:
            return None
        for _ in range(2):  # a sandbox that cannot be made ready ends, and a new one is tried once
            if self._box is not None and self._box.broken:
                self._close()
            box = self._open(chapter)
            if box is None:
                return None
            try:
                box.next_chapter(chapter)
                return box
            except OSError as error:
                box.zygote.kill(f"the sandbox could not be made ready: {error}")
        raise RuntimeError(f"no sandbox could be made ready for {chapter}")

    def _open(self, chapter: str) -> Sandbox | None:
        """The shared sandbox, opened for `chapter` if there is none; None when it cannot start."""
        if self._box is None:
            stack = contextlib.ExitStack()
            try:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ag-", dir=short_tmp()))
                self._box = stack.enter_context(Sandbox.open_shared(Path(tmp), self.limits, chapter))
            except ZygoteError:  # this student's chapters get a sandbox each
                stack.close()
                self.shared = False
                return None
            except BaseException:
                stack.close()
                raise
            self._current = stack
        return self._box


def run_submission(
    submitted: NotebookNode, chapter: Chapter, isolation: str, limits: Limits, log: Path, shared: Sandbox | None = None
) -> Run:
    """Autogrades `submitted` in a copy of `chapter`'s course, its kernel in a sandbox
    (`isolation`, `limits`; or in the student's `shared` one, made ready for this chapter); once
    every process of the sandbox but its zygote is dead, writes nbgrader's log and the sandbox's to
    `log` (a folder the sandbox cannot see). Raises `course.NbgraderError` (or anything else)
    when grading fails."""
    if shared is not None:
        return _run_in(shared, submitted, chapter, log)
    with (
        tempfile.TemporaryDirectory(prefix="ag-", dir=short_tmp()) as tmp,
        Sandbox.open(Path(tmp), isolation, limits, chapter.name) as box,
    ):
        return _run_in(box, submitted, chapter, log)


def _run_in(box: Sandbox, submitted: NotebookNode, chapter: Chapter, log: Path) -> Run:
    """`run_submission` in the sandbox `box`."""
    isolation, limits = box.isolation, box.limits
    course = Course(shutil.copytree(chapter.template, box.root / "course"))
    report_path, observations = box.root / "report.json", box.root / "observations.jsonl"
    course.sandbox(box, report=report_path, environment=GRADING_ENVIRONMENT, observations=observations)
    notebooks.write(drop_duplicate_ids(copy.deepcopy(submitted)), box.root / "submitted.ipynb")
    execution = None
    try:
        with notebooks.environment(**GRADING_ENVIRONMENT):
            executed = course.autograde(chapter.name, box.root / "submitted.ipynb")
        box.end()  # nothing of the sandbox runs any more while its observations are judged
        if chapter.observed:
            judgements = _judgements(submitted, chapter, isolation, limits, read_observations(observations))
            course.record_judgements(chapter.name, judgements)
        executed = course.show_submitted_outputs(chapter.name, submitted, limits.max_output_bytes)
        execution = report.load(report_path)
        execution.library_changed = box.library_changed()
        cells = _cell_scores(chapter, course.scores(chapter.name), execution.library_changed)
        page = course.generate_feedback(chapter.name).read_text(encoding="utf-8")
    finally:
        box.end()  # nothing of the sandbox runs any more when the log and the result are written
        write_atomic(log, _log(box, execution, course.log))
    reached = box.limit_notes()  # read while the sandbox's folder exists
    return Run(executed, execution, cells, page, box.held(), reached)


def _judgements(
    submitted: NotebookNode, chapter: Chapter, isolation: str, limits: Limits, observed: dict
) -> list[Judgement]:
    """The judge's verdicts on the test cells; the objectives that failed while helpers of their
    chapter fail their own tests are observed again with correct helpers (`judge.wrong_helpers`)."""
    judge = Judge(chapter.expected)
    judgements = judge.judge_all(observed, chapter.observed)
    helpers = wrong_helpers(judgements, chapter.observed, observed, unwritten(submitted))
    for names, judged in second_runs(helpers).items():
        second = observe_again(submitted, chapter, isolation, limits, names)
        cells = {grade_id: chapter.observed[grade_id] for grade_id in judged}
        judgements = again(judgements, judge.judge_all(second, cells), helpers)
    return judgements


def observe_again(
    submitted: NotebookNode, chapter: Chapter, isolation: str, limits: Limits, substitutes: tuple[str, ...]
) -> dict:
    """The observations of a second run of `submitted`, in a sandbox of its own whose library holds
    the reference `substitutes` (helpers of `chapter`) and whose hidden test cells observe the
    objectives with them (`vaelab.checks.grading.SUBSTITUTES`). Nothing of this run is shown."""
    environment = {**GRADING_ENVIRONMENT, SUBSTITUTES: ",".join(substitutes)}
    with (
        tempfile.TemporaryDirectory(prefix="ag-", dir=short_tmp()) as tmp,
        Sandbox.open(Path(tmp), isolation, limits, chapter.name, substitutes) as box,
    ):
        course = Course(shutil.copytree(chapter.template, box.root / "course"))
        observations = box.root / "observations.jsonl"
        course.sandbox(box, report=box.root / "report.json", environment=environment, observations=observations)
        notebooks.write(drop_duplicate_ids(copy.deepcopy(submitted)), box.root / "submitted.ipynb")
        with notebooks.environment(**environment):
            course.autograde(chapter.name, box.root / "submitted.ipynb")
        box.end()
        return {} if box.library_changed() else read_observations(observations)


def _log(box: Sandbox, execution: ExecutionReport | None, nbgrader_log: str) -> str:
    """The instructor's log of one run: the sandbox, the limits, what the kernel printed, the
    execution report, nbgrader's log."""
    limits = box.limits
    lines = [
        f"isolation: {box.isolation}: {DESCRIPTIONS[box.isolation]}",
        f"limits: {limits.timeout} s per cell, {limits.notebook_timeout} s per notebook, "
        f"{gib(limits.memory_limit)} of memory",
        f"limits that held: {box.held()}",
        f"cgroup (removed after the run): {' '.join(map(str, box.cgroup.folders)) or 'none'}",
        *box.limit_notes(),
    ]
    kernel = box.kernel_output()
    if kernel:
        lines.append(f"kernel output (last lines):\n{kernel}")
    if execution is not None:
        lines.append(f"execution report: {json.dumps(execution.to_json())}")
    return "\n".join(lines) + "\n\n" + nbgrader_log
