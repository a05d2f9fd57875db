"""`python -m autograder grade SUBMISSIONS --out DIR`: grade a whole class with nbgrader.

SUBMISSIONS is a folder or a .zip: `<student>/<chapter>.ipynb`, or an export of Canvas, Moodle
or Blackboard (see `autograder.inputs`). Every submission is autograded in a course of its own (a
copy of the chapter's course where `generate_assignment` ran once), with its own gradebook, in
fast mode (`VAELAB_FAST=1` and nbgrader's `NBGRADER_EXECUTION=autograde`, under which
`vaelab.train.steps_for` trains a quarter of fast mode's steps), in a worker process of its own
(`--jobs N` at once), its kernel in the sandbox of `autograder.sandbox` with a per-cell time limit
(`--timeout`), a per-notebook time limit (`--notebook-timeout`) and a memory limit
(`--memory-limit`). Nothing is written outside the temporary folders and DIR.

DIR receives:

- `results/<student>/<chapter>.json`: the result of one submission, written atomically (a
  temporary file, then a rename) as soon as it is graded, with the hash of what it depends on
  (the submitted file, the chapter's source notebook, `vaelab/` and `autograder/hidden/`).
  A re-run into the same DIR keeps every result whose hash still matches (`--force` regrades
  everything; results of status `error` are always retried), so a batch killed in the middle
  (even by `kill -9`) resumes where it stopped and ends with the same grades;
- `grades.csv`: one row per file found, columns `GRADES_COLUMNS`, built from the results at the
  end: `score` / `max_score` are the autograded points (test cells); `manual_max` the points of
  the written answers, which wait for a human grader; `status` one of `STATUSES`; `message` what
  went wrong (failed tests, deleted cells, limits, edited tests, the reason a file is invalid);
  `name` the student's name when the LMS export gives one, `file` the path inside SUBMISSIONS;
- `scores_by_function.csv`: one row per graded cell of every submission that nbgrader graded,
  columns `CELL_COLUMNS`; `kind` is `auto` (a test cell, `grade_id` test_<function>...) or
  `manual` (a written answer; `score` empty while it waits for a human grader, 0 when left
  unanswered);
- `feedback/<student>/<chapter>.html`: a summary (score per function, the named mistakes, the
  notes) above nbgrader's feedback (every cell with its outputs: the student's figures and the
  full assertion messages), or a short page saying why the file was not graded;
- `summary.html`: the class summary (score histogram, failure rate per function, the most
  common mistakes), see `autograder.feedback`;
- `logs/<student>/<chapter>.log`: nbgrader's log and the sandbox used, for the instructor.

`--db URL` (`Options.db`) also writes each result, as it arrives, to a gradebook database, from
this process only (`autograder.gradebook`); `--shard i/N` keeps the students of one part of the
class. A result that cannot be written stays in DIR/results and the exit code is 1.

Statuses (`STATUSES`): `graded`; `missing_cells` (graded, but answer or test cells were
deleted: their tests score 0); `timeout` (graded, but a cell ran past `--timeout` or the notebook
past `--notebook-timeout`: the cells that did not finish score 0); `memory` (graded, but the
kernel ran out of memory); `crashed` (graded, but the kernel died, e.g. `os._exit`: the cells
after it were not run and score 0); `invalid` (not a chapter notebook: not JSON, not nbformat 4,
unknown file name or place); `error` (the grader failed). A bad submission never stops the batch.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import multiprocessing
import multiprocessing.connection
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from . import notebooks, sandbox
from .course import Course, NbgraderError
from .feedback import (
    class_summary,
    not_graded_page,
    summary_block,
    with_summary,
    write_atomic,
)
from .gradebook import ClassGradebook, Shard, chapter_cells, display_url, one_line
from .inputs import Submission, UsageError, find_submissions, submissions_root

__all__ = ["CELL_COLUMNS", "GRADES_COLUMNS", "STATUSES", "Options", "UsageError", "grade"]

STATUSES = ("graded", "missing_cells", "timeout", "memory", "crashed", "invalid", "error")
GRADES_COLUMNS = ["student", "chapter", "score", "max_score", "manual_max", "status", "message",
                  "name", "file"]
CELL_COLUMNS = ["student", "chapter", "grade_id", "kind", "score", "max_score"]
#: Bumped when a change of the grader changes grades: results of older versions are regraded.
GRADER_VERSION = "2"
#: What the result hash covers besides the submission and its source notebook.
DEPENDENCIES = ("vaelab/**/*.py", "autograder/hidden/**/*.py")
#: Error outputs that mean "out of memory".
MEMORY_ERRORS = re.compile(r"MemoryError|OutOfMemoryError|can't allocate memory|"
                           r"Cannot allocate memory|std::bad_alloc|out of memory")
#: ipykernel's start-up message (it prints it when no parent process watches it).
KERNEL_NOISE = re.compile(r"NOTE: When using the `ipython kernel`|To exit, you will have to|"
                          r"\"quit\" from a client|To read more about this|"
                          r"To connect another client|--existing ")
#: The error outputs that the grader itself writes (`autograder.execute`).
GRADER_ERRORS = ("DeadKernelError", "NotebookTimeout", "TamperingError", "CellTimeoutError")
#: Names in a student's cell that reach for the grader's internals (flagged for review).
SUSPICIOUS = ("autograder", "sys.modules", "get_referrers", "get_objects", "settrace",
              "setprofile", "set_custom_exc", "ctypes", "__builtins__", "import builtins",
              "events.register", "importlib.reload", "_autograder_guard", "meta_path")


class InvalidSubmission(Exception):
    """A file that is not a gradable chapter notebook; the message says why."""


@dataclass
class Options:
    """How submissions are graded (see `python -m autograder grade --help`)."""

    timeout: int = 180
    notebook_timeout: int = 900
    memory_limit: int = 4 << 30
    max_output_bytes: int = 1_000_000
    isolation: str = "auto"
    jobs: int = 1
    force: bool = False
    db: str = ""
    shard: str = ""


@dataclass
class Chapter:
    """A chapter ready for grading: `template` is a course where its assignment is generated;
    `cells` maps each graded cell's grade_id to `(kind, points)`; `answers` are the grade_ids
    that a submission must still contain (graded and answer cells); `functions` the grade_ids
    of the answer code cells; `released` the student notebook; `digest` the hash of the source
    notebook and of `DEPENDENCIES`."""

    name: str
    template: Path
    cells: dict[str, tuple[str, float]]
    answers: set[str]
    functions: list[str]
    released: NotebookNode
    digest: str


@dataclass
class Result:
    """The outcome for one submission; `cells` holds `[grade_id, kind, score, max_score]`."""

    student: str
    chapter: str
    status: str
    message: str = ""
    cells: list = field(default_factory=list)
    max_score: float = 0.0
    manual_max: float = 0.0
    name: str = ""
    file: str = ""
    notes: list[str] = field(default_factory=list)
    mistakes: dict[str, str] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    isolation: str = ""
    digest: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(score or 0.0 for _, kind, score, _ in self.cells if kind == "auto")

    def to_json(self) -> dict:
        return {**asdict(self), "score": self.score}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})

    def row(self) -> dict[str, str]:
        return {"student": self.student, "chapter": self.chapter, "score": f"{self.score:g}",
                "max_score": f"{self.max_score:g}", "manual_max": f"{self.manual_max:g}",
                "status": self.status, "message": self.message, "name": self.name,
                "file": self.file}


# ---------------------------------------------------------------------------------------------
# Chapters and submissions

def _answer_ids(nb: NotebookNode) -> set[str]:
    """grade_ids of the graded cells and of the answer cells."""
    return {cell.metadata.nbgrader.get("grade_id") for cell in nb.cells
            if nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell)}


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def dependencies_digest() -> str:
    """A hash of `DEPENDENCIES` (the code the hidden tests run) and of `GRADER_VERSION`."""
    files = sorted({p for pattern in DEPENDENCIES for p in sandbox.REPO.glob(pattern)})
    return _digest(GRADER_VERSION.encode(),
                   *(str(p.relative_to(sandbox.REPO)).encode() + b"\0" + p.read_bytes()
                     for p in files))


def prepare_chapter(solution: Path, workdir: Path, dependencies: str = "") -> Chapter:
    """Runs `generate_assignment` for `solution` once, in `workdir/<chapter>`."""
    template = workdir / solution.stem
    template.mkdir(parents=True)
    released = Course(template).generate_assignment(solution)
    cells = notebooks.graded_cells(released)
    functions = [cell.metadata.nbgrader["grade_id"] for cell in released.cells
                 if cell.cell_type == "code" and nbgrader_utils.is_solution(cell)
                 and not nbgrader_utils.is_grade(cell)]
    return Chapter(solution.stem, template, cells, _answer_ids(released), functions, released,
                   _digest(solution.read_bytes(), dependencies.encode()))


def read_submission(path: Path) -> NotebookNode:
    """The submitted notebook; raises `InvalidSubmission` when it is not an nbformat 4 notebook."""
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidSubmission(f"not a notebook: the file is not valid JSON ({error})") from None
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):
        raise InvalidSubmission("not a notebook: the JSON has no cells")
    if data.get("nbformat") != 4:
        raise InvalidSubmission(f"nbformat {data.get('nbformat')} notebook: expected nbformat 4 "
                                "(save it with Jupyter)")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises many kinds on a broken structure
        raise InvalidSubmission(f"not a notebook: {error}") from None


def drop_duplicate_ids(nb: NotebookNode) -> NotebookNode:
    """Keeps the nbgrader metadata of the last cell of each grade_id only (a student who copied
    a cell copied its metadata). nbgrader does the same, but blanks the metadata of the others
    instead of removing it, which its own validator then rejects, failing the whole notebook."""
    seen = set()
    for cell in reversed(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in seen:
            del cell.metadata["nbgrader"]
        elif grade_id:
            seen.add(grade_id)
    return nb


def duplicated_ids(nb: NotebookNode) -> list[str]:
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    return sorted({i for i in ids if i and ids.count(i) > 1})


def edited_locked_cells(submitted: NotebookNode, released: NotebookNode) -> list[str]:
    """The locked cells of `released` whose source the student changed, found as nbgrader finds
    them: the checksum of the released cell with the submitted source differs from the one
    recorded at release (nbgrader then restores the released source)."""
    by_id = {}
    for cell in submitted.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            by_id[grade_id] = cell  # the last copy, as drop_duplicate_ids keeps
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
            label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
            found.append(f"{label} uses {', '.join(names)}")
    return found


def _errors(cell: NotebookNode) -> list[NotebookNode]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def first_line(output: NotebookNode) -> str:
    """`ename: the first line of evalue`, the named mistake of a failed test."""
    value = (output.get("evalue") or "").strip().splitlines()
    return f"{output.get('ename')}: {value[0]}" if value else str(output.get("ename"))


def _label(cell: NotebookNode, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


# ---------------------------------------------------------------------------------------------
# One submission (in a worker process)

def new_result(submission: Submission, chapter: Chapter | None, status: str,
               message: str = "") -> Result:
    """A result without scores yet; the maxima come from the chapter, when it is known."""
    result = Result(submission.student, submission.chapter, status, message,
                    name=submission.name, file=submission.file)
    if chapter is not None:
        result.max_score = sum(p for kind, p in chapter.cells.values() if kind == "auto")
        result.manual_max = sum(p for kind, p in chapter.cells.values() if kind == "manual")
        result.functions = list(chapter.functions)
    return result


def grade_submission(submission: Submission, chapter: Chapter, out: Path,
                     options: Options) -> Result:
    """Autogrades one valid-looking submission in a copy of the chapter's course; writes its
    feedback and log under `out`. Raises `InvalidSubmission`, or anything else on a failure
    (the caller reports it)."""
    result = new_result(submission, chapter, "graded")
    result.isolation = options.isolation
    submitted = read_submission(submission.path)
    notes: list[str] = []
    report: dict = {}
    asked = submitted.metadata.get("kernelspec", {}).get("name")
    course_kernel = chapter.released.metadata.get("kernelspec", {}).get("name", "python3")
    if asked != course_kernel:
        notes.append(f"kernel: the notebook asks for kernel {asked!r}; it was graded with the "
                     f"course's kernel ({course_kernel!r})")
    edited = edited_locked_cells(submitted, chapter.released)
    tests = [g for g in edited if g in chapter.cells]
    if tests:
        notes.append(f"tests_edited: {', '.join(tests)} (the original tests were restored and run)")
    if len(edited) > len(tests):
        notes.append("locked cells edited: " + ", ".join(g for g in edited if g not in tests)
                     + " (restored)")
    duplicates = duplicated_ids(submitted)
    if duplicates:
        notes.append(f"duplicated cells: {', '.join(duplicates)} (the last copy is graded)")
    suspicious = suspicious_code(submitted)
    if suspicious:
        notes.append("review: " + "; ".join(suspicious))
    with tempfile.TemporaryDirectory(prefix="ag-", dir=_short_tmp()) as tmp:
        tmp = Path(tmp)
        course = Course(shutil.copytree(chapter.template, tmp / "course"), options.timeout)
        lib = sandbox.course_lib(tmp / "lib")
        before = _tree_digest(lib)
        (tmp / "run").mkdir()
        course.sandbox(isolation=options.isolation, lib=lib, run=tmp / "run",
                       report=tmp / "report.json", notebook_timeout=options.notebook_timeout,
                       memory_limit=options.memory_limit,
                       max_output_bytes=options.max_output_bytes,
                       environment={"VAELAB_FAST": "1", "NBGRADER_EXECUTION": "autograde"})
        notebooks.write(drop_duplicate_ids(copy.deepcopy(submitted)), tmp / "submitted.ipynb")
        log = [f"isolation: {options.isolation}: {sandbox.DESCRIPTIONS[options.isolation]}",
               f"limits: {options.timeout} s per cell, {options.notebook_timeout} s per notebook, "
               f"{_gib(options.memory_limit)} of memory"]
        try:
            with notebooks.environment(VAELAB_FAST="1", NBGRADER_EXECUTION="autograde"):
                graded = course.autograde(chapter.name, tmp / "submitted.ipynb")
            if (tmp / "report.json").exists():
                report = json.loads((tmp / "report.json").read_text())
            lib_changed = _tree_digest(lib) != before
            scores = course.scores(chapter.name)
            page = course.generate_feedback(chapter.name).read_text(encoding="utf-8")
        finally:
            kernel_log = tmp / "run" / "kernel.log"
            if kernel_log.exists():
                tail = "\n".join(line for line in kernel_log.read_text(errors="replace")
                                 .splitlines() if line.strip() and not KERNEL_NOISE.search(line))
                tail = tail[-4000:]
                if tail:
                    log.append(f"kernel output (last lines):\n{tail}")
            if report:
                log.append(f"execution report: {json.dumps(report)}")
            _save(out / "logs" / submission.student / f"{chapter.name}.log",
                  "\n".join(log) + "\n\n" + course.log)
            sandbox.make_writable(lib)

    for grade_id, (kind, points) in chapter.cells.items():
        score = scores.get(grade_id, (None, points))[0]  # None: waits for a human grader
        result.cells.append([grade_id, kind, (score or 0.0) if kind == "auto" else score, points])
    if lib_changed:  # only possible without bubblewrap, where the library is not read-only
        notes.append("tampering: the notebook modified the course library the tests import; "
                     "no autograded points")
        for cell in result.cells:
            if cell[1] == "auto":
                cell[2] = 0.0

    missing = sorted(chapter.answers - _answer_ids(submitted))
    by_id = {_label(c, i): c for i, c in enumerate(graded.cells)}
    for grade_id, kind, score, points in result.cells:
        errors = _errors(by_id[grade_id]) if grade_id in by_id else []
        if kind == "auto" and score < points and errors:
            result.mistakes[grade_id] = first_line(errors[0])
        elif kind == "auto" and score < points and grade_id in missing:
            result.mistakes[grade_id] = "the test cell was deleted"
    undefined = []
    for grade_id, mistake in result.mistakes.items():
        match = re.match(r"NameError: name '(\w+)' is not defined", mistake)
        if match and match[1] in chapter.functions and match[1] not in undefined:
            undefined.append(match[1])
            answer = by_id.get(match[1])
            why = ("its answer cell was deleted" if match[1] in missing
                   else "its answer cell failed (see its error in the feedback)"
                   if answer is not None and (_errors(answer) or not answer.get("outputs")
                                              and answer.get("execution_count") is None)
                   else "did you rename it?")
            result.mistakes[grade_id] = f"function {match[1]} is not defined: {why}"
            notes.append(f"function {match[1]} is not defined: {why}")

    memory = [_label(c, i) for i, c in enumerate(graded.cells)
              if any(MEMORY_ERRORS.search(f"{o.get('ename')}: {o.get('evalue')}")
                     for o in _errors(c) if o.get("ename") not in GRADER_ERRORS)]
    death = report.get("kernel_death")
    timed_out = report.get("timed_out", [])
    if memory:
        notes.append(f"memory: out of memory (limit {_gib(options.memory_limit)}) in "
                     f"{', '.join(memory)}")
    if death:
        notes.append(f"crashed: the kernel died in {death['cell']}: {death['how']}; the cells "
                     "after it were not run")
    if timed_out:
        notes.append(f"timed out (limits: {options.timeout} s per cell, "
                     f"{options.notebook_timeout} s per notebook): {', '.join(timed_out)}")
    if report.get("unresponsive"):
        notes.append(f"the kernel did not stop when interrupted in {report['unresponsive']}: "
                     "it was shut down and the cells after it were not run")
    if report.get("notebook_timeout"):
        notes.append(f"notebook time limit ({options.notebook_timeout} s) reached"
                     + (f"; not run: {', '.join(report['not_run'])}"
                        if report.get("not_run") and not death else ""))
    if report.get("truncated"):
        notes.append(f"output truncated (more than {options.max_output_bytes} bytes) in "
                     f"{', '.join(report['truncated'])}")
    if report.get("restored"):
        notes.append("tampering: restored before the tests: " + ", ".join(report["restored"]))
    for item in report.get("tampering", []):
        notes.append(f"tampering: {', '.join(item['changed'])} changed while {item['cell']} ran: "
                     "no points for it")
    failed = [g for g, kind, score, points in result.cells
              if kind == "auto" and score < points and g not in missing]
    killed_by_memory = death and death.get("signal") in (signal.SIGKILL, signal.SIGSEGV,
                                                          signal.SIGABRT) and memory
    out_of_cpu = death and death.get("signal") == signal.SIGXCPU  # RLIMIT_CPU
    result.status = ("memory" if memory or killed_by_memory
                     else "timeout" if out_of_cpu
                     else "crashed" if death
                     else "timeout" if timed_out or report.get("notebook_timeout")
                     else "missing_cells" if missing else "graded")
    messages = [f"missing cells: {', '.join(missing)}" if missing else ""]
    messages += [n for n in notes if not n.startswith(("kernel:", "review:"))]
    messages += [n for n in notes if n.startswith(("kernel:", "review:"))]
    messages.append(f"failed: {', '.join(failed)}" if failed else "")
    result.message = "; ".join(m for m in messages if m)
    result.notes = notes + [f"isolation: {sandbox.DESCRIPTIONS[options.isolation]}"]
    write_atomic(out / "feedback" / submission.student / f"{chapter.name}.html",
                 with_summary(page, summary_block(result.to_json())))
    return result


def _short_tmp() -> str:
    """The temporary folder, or /tmp when its path is too long for the kernel's Unix sockets
    (at most 107 bytes, and ours add about 40)."""
    folder = tempfile.gettempdir()
    return folder if len(folder) <= 64 else "/tmp"


def _gib(size: int) -> str:
    return f"{size / (1 << 30):g} GiB" if size else "no limit"


def _tree_digest(root: Path) -> str:
    return _digest(*(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes()
                     for p in sorted(root.rglob("*")) if p.is_file()))


def _save(path: Path, text: str) -> None:
    write_atomic(path, text)


def grade_one(submission: Submission, chapter: Chapter | Exception | None, out: Path,
              options: Options, digest: str) -> Result:
    """The result of one submission, whatever happens (invalid, error included), with its
    feedback page written; `digest` is recorded in it."""
    start = time.monotonic()
    known = chapter if isinstance(chapter, Chapter) else None
    try:
        if submission.problem:
            raise InvalidSubmission(submission.problem)
        if isinstance(chapter, Exception):
            raise RuntimeError(f"cannot prepare the chapter: {chapter}")
        result = grade_submission(submission, chapter, out, options)
    except InvalidSubmission as error:
        result = new_result(submission, known, "invalid", str(error))
    except Exception as error:
        message = str(error) if isinstance(error, NbgraderError) else (
            traceback.format_exception_only(type(error), error)[-1].strip())
        result = new_result(submission, known, "error", message)
    result.digest = digest
    result.seconds = round(time.monotonic() - start, 1)
    if result.status in ("invalid", "error") and result.student:
        write_atomic(out / "feedback" / result.student / f"{result.chapter}.html",
                     not_graded_page(result.to_json()))
    return result


def result_path(out: Path, submission: Submission) -> Path:
    return out / "results" / f"{submission.key}.json"


def write_result(out: Path, submission: Submission, result: Result) -> None:
    write_atomic(result_path(out, submission),
                 json.dumps(result.to_json(), indent=1, sort_keys=True) + "\n")


def _worker(submission: Submission, chapter, out: Path, options: Options, digest: str) -> None:
    """A worker process: grades one submission and writes its result."""
    try:  # die with the batch (a killed batch leaves no orphan grading on)
        import ctypes
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:
        pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    write_result(out, submission, grade_one(submission, chapter, out, options, digest))


# ---------------------------------------------------------------------------------------------
# The batch

def load_result(out: Path, submission: Submission) -> Result | None:
    try:
        return Result.from_json(json.loads(result_path(out, submission).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _run_workers(jobs: list[tuple[Submission, object, str]], out: Path, options: Options,
                 on_result) -> None:
    """Grades `jobs` (`(submission, chapter, digest)`) in `options.jobs` worker processes at a
    time; a worker that dies or runs past the notebook's time limit (with a margin) gets an
    `error` or `timeout` result written by this process instead."""
    # Workers start from a fresh server process (not a fork of this one, whose event loops,
    # ZeroMQ contexts and threads, in a test run say, must not be shared with the workers).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autograder.grade"])
    queue = list(jobs)
    running: dict = {}
    hard_limit = (options.notebook_timeout * 1.5 + 120) if options.notebook_timeout else None
    while queue or running:
        while queue and len(running) < max(1, options.jobs):
            submission, chapter, digest = queue.pop(0)
            process = context.Process(target=_worker,
                                      args=(submission, chapter, out, options, digest))
            process.start()
            running[process] = (submission, chapter, digest, time.monotonic())
        multiprocessing.connection.wait([p.sentinel for p in running], timeout=1.0)
        for process in list(running):
            submission, chapter, digest, start = running[process]
            overdue = hard_limit is not None and time.monotonic() - start > hard_limit
            if process.is_alive() and not overdue:
                continue
            if overdue:
                process.kill()
            process.join()
            del running[process]
            result = load_result(out, submission)
            if result is None or result.digest != digest:
                known = chapter if isinstance(chapter, Chapter) else None
                if overdue:
                    result = new_result(submission, known, "timeout",
                                        f"grading stopped after {hard_limit:.0f} s")
                else:
                    result = new_result(submission, known, "error",
                                        f"the grading process died (exit code {process.exitcode})")
                result.digest = digest
                result.seconds = round(time.monotonic() - start, 1)
                if result.student:
                    write_atomic(out / "feedback" / result.student / f"{result.chapter}.html",
                                 not_graded_page(result.to_json()))
                write_result(out, submission, result)
            on_result(submission, result)


def grade(submissions: Path, out: Path, solutions: Path, options: Options | None = None) -> int:
    """Grades every submission, writes DIR's files and returns the exit code (0 once the batch
    ran, whatever the submissions were; 1 when results could not be written to `--db`; 2 on
    usage errors)."""
    options = copy.copy(options or Options())
    out, submissions = out.resolve(), submissions.resolve()
    sources = notebooks.chapter_sources(solutions.resolve())
    if not sources:
        raise UsageError(f"no source notebooks in {solutions}/")
    try:
        options.isolation = sandbox.resolve(options.isolation)
    except (RuntimeError, ValueError) as error:
        raise UsageError(str(error)) from None
    shard = Shard.parse(options.shard) if options.shard else None
    if shard is not None and not options.db:
        raise UsageError("--shard needs --db: the machines' results meet in that gradebook")
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        workdir = Path(tmp)
        found = find_submissions(submissions_root(submissions, workdir), list(sources))
        if not found:
            raise UsageError(f"no submissions in {submissions}: expected <student>/<chapter>.ipynb"
                             " or an LMS export")
        if shard is not None:
            everyone = len(found)
            found = [s for s in found if shard.owns(s.student)]
            print(f"shard {shard}: {len(found)} of the {everyone} files", flush=True)
        database = ClassGradebook(options.db) if options.db else None
        structures: dict[str, dict] = {}
        unsynced: list[str] = []

        def sync(result: Result) -> None:
            """Writes `result` to the database gradebook, if there is one; a failure is
            reported at the end (the result stays in DIR/results, and a re-run writes it)."""
            if database is None:
                return
            source = sources.get(result.chapter)
            try:
                if source is not None and result.chapter not in structures:
                    structures[result.chapter] = chapter_cells(source)
                database.record(result.to_json(), structures.get(result.chapter))
            except Exception as error:
                unsynced.append(f"{result.student}/{result.chapter}: {one_line(error)}")
                print(f"warning: {unsynced[-1]}: not written to the gradebook", flush=True)

        out.mkdir(parents=True, exist_ok=True)
        for stale in out.rglob(".*.tmp"):
            stale.unlink()  # half-written by a run that was killed (see write_atomic)
        print(f"grading {len(found)} files with isolation {options.isolation} "
              f"({sandbox.DESCRIPTIONS[options.isolation]}), {options.jobs} at a time", flush=True)
        dependencies = dependencies_digest()
        chapters: dict[str, Chapter | Exception] = {}
        results: dict[str, Result] = {}
        jobs = []
        kept = 0
        for submission in found:
            source = sources.get(submission.chapter)
            digest = _digest(submission.path.read_bytes(),
                             source.read_bytes() if source else b"", dependencies.encode())
            previous = None if options.force else load_result(out, submission)
            if previous and previous.digest == digest and previous.status != "error":
                results[submission.key] = previous
                kept += 1
                sync(previous)
                print(_summary(previous, "unchanged, kept"), flush=True)
                continue
            chapter = None
            if source is not None and not submission.problem:
                if submission.chapter not in chapters:
                    try:
                        chapters[submission.chapter] = prepare_chapter(
                            source, workdir / "chapters", dependencies)
                    except Exception as error:
                        chapters[submission.chapter] = error
                chapter = chapters[submission.chapter]
                try:
                    read_submission(submission.path)
                except InvalidSubmission as error:  # no need for a worker
                    submission = copy.copy(submission)
                    submission.problem = str(error)
            if submission.problem or isinstance(chapter, Exception):
                result = grade_one(submission, chapter, out, options, digest)
                write_result(out, submission, result)
                results[submission.key] = result
                sync(result)
                print(_summary(result), flush=True)
            else:
                jobs.append((submission, chapter, digest))

        def done(submission: Submission, result: Result) -> None:
            results[submission.key] = result
            sync(result)
            print(_summary(result), flush=True)

        try:
            _run_workers(jobs, out, options, done)
        finally:
            if database is not None:
                database.close()

    ordered = [results[s.key] for s in found]
    write_class_files(out, [r.to_json() for r in ordered])
    counts = ", ".join(f"{sum(r.status == s for r in ordered)} {s}" for s in STATUSES
                       if any(r.status == s for r in ordered))
    print(f"{len(ordered)} submissions: {counts}; grades in {out / 'grades.csv'}"
          + (f" ({kept} unchanged since the last run, kept)" if kept else ""))
    if options.db:
        if unsynced:
            print(f"error: {len(unsynced)} results were not written to the gradebook "
                  f"{display_url(options.db)} (they are kept in {out / 'results'}): run the same "
                  "command again to write them", file=sys.stderr)
            return 1
        print(f"gradebook {display_url(options.db)}: {len(ordered)} results written")
    return 0


def write_class_files(out: Path, results: list[dict]) -> list[Path]:
    """Writes `grades.csv`, `scores_by_function.csv` and `summary.html` of `results` (the
    results' JSON objects, in the order of the rows) into `out`; returns their paths."""
    records = [Result.from_json(r) for r in results]
    files = {
        "grades.csv": _csv(GRADES_COLUMNS, [r.row() for r in records]),
        "scores_by_function.csv": _csv(CELL_COLUMNS, [
            {"student": r.student, "chapter": r.chapter, "grade_id": grade_id, "kind": kind,
             "score": "" if score is None else f"{score:g}", "max_score": f"{points:g}"}
            for r in records for grade_id, kind, score, points in r.cells]),
        "summary.html": class_summary([r.to_json() for r in records]),
    }
    for name, text in files.items():
        write_atomic(Path(out) / name, text)
    return [Path(out) / name for name in files]


def _summary(result: Result, note: str = "") -> str:
    line = f"{result.student or '.'}/{result.chapter}: {result.status}"
    if result.status not in ("invalid", "error"):
        line += f" {result.score:g}/{result.max_score:g}"
        if result.manual_max:
            line += f" (+{result.manual_max:g} to grade by hand)"
    if result.message:
        line += f" - {result.message}"
    return f"{line} [{note or f'{result.seconds:.1f} s'}]"


def _csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
