"""`python -m autograder grade SUBMISSIONS --out DIR`: grade a whole class with nbgrader.

SUBMISSIONS is a folder or a .zip: `<student>/<chapter>.ipynb`, or an export of Canvas, Moodle
or Blackboard (see `autograder.inputs`: no link followed, every file and zip member read within
caps, ids only from the LMS's part of a name). Every submission is graded by `autograder.grade` (in a
course of its own, in fast mode, its kernel in the sandbox of `autograder.sandbox` with a
per-cell time limit `--timeout`, a per-notebook time limit `--notebook-timeout` and a memory
limit `--memory-limit`), by a worker process that grades all of one student's chapters, in
chapter order, in one sandbox (`runner.StudentSandbox`: its zygote forks each chapter's kernel),
`--jobs N` workers at once. Nothing is written outside the temporary folders and DIR.

DIR receives:

- `results/<student>/<chapter>.json`: the result of one submission (`autograder.result`),
  written atomically as soon as it is graded, with the hash of what it depends on (the
  submitted file, the chapter's source notebook, the course library `vaelab/` and
  `autograder/hidden/`, and `GRADER_VERSION`). A re-run into the same DIR keeps every result
  whose hash still matches (`--force` regrades everything; results of status `error` are always
  retried), so a batch killed in the middle (even by `kill -9`) resumes where it stopped and
  ends with the same grades;
- `grades.csv`: one row per file found, columns `result.GRADES_COLUMNS`, built from the results
  at the end: `score` / `max_score` are the autograded points (test cells); `manual_max` the
  points of the written answers, which wait for a human grader; `status` one of
  `result.STATUSES`; `message` what went wrong (failed tests, deleted cells, limits, edited
  tests, the reason a file is invalid); `name` the student's name when the LMS export gives
  one, `file` the path inside SUBMISSIONS;
- `scores_by_function.csv`: one row per graded cell of every submission that nbgrader graded,
  columns `result.CELL_COLUMNS`; `kind` is `auto` (a test cell, `grade_id` test_<function>...)
  or `manual` (a written answer; `score` empty while it waits for a human grader, 0 when left
  unanswered);
- `feedback/<student>/<chapter>.html`: a summary (score per function, the named mistakes, the
  notes) above nbgrader's feedback (every cell with its outputs: the student's figures and the
  full assertion messages), or a short page saying why the file was not graded;
- `summary.html`: the class summary (score histogram, failure rate per function, the most
  common mistakes), see `autograder.feedback`, and the similarity of answers across the class;
- `similarity.csv`: answers alike across the class or like the reference solution, flagged from
  `--similarity-threshold` on (`autograder.similarity`);
- `logs/<student>/<chapter>.log`: nbgrader's log and the sandbox used, for the instructor.

`--db URL` (`Options.db`) also writes each result, as it arrives, to a gradebook database, from
this process only (`autograder.gradebook`); `--shard i/N` keeps the students of one part of the
class. A result that cannot be written stays in DIR/results and the exit code is 1. Whatever goes
wrong with one submission (reading it, pre-flight, writing its result) becomes its own row
(`invalid` or `error`); the batch goes on with the others.
"""

from __future__ import annotations

import copy
import multiprocessing
import multiprocessing.connection
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import library, notebooks, sandbox, similarity
from . import result as results_io
from .feedback import write_class_files
from .files import REPO, UnsafeFile, digest, read_regular
from .grade import Options, grade_one, new_result, write_not_graded_page
from .gradebook import ClassGradebook, Shard, chapter_cells, display_url, one_line
from .inputs import Submission, UsageError, find_submissions, open_submissions
from .preflight import MAX_NOTEBOOK_BYTES, InvalidSubmission, read_submission
from .result import STATUSES, Result
from .runner import Chapter, StudentSandbox, prepare_chapter
from .workers import start_workers

__all__ = ["GRADER_VERSION", "Options", "UsageError", "grade"]

#: Bumped when a change of the grader changes grades: results of older versions are regraded.
GRADER_VERSION = "3"  # 3: observations judged outside the sandbox (`autograder.judge`)
#: A worker gets this many times the notebook's time limit, plus `HARD_LIMIT_MARGIN` seconds
#: (nbgrader's own steps, the kernel's start), before it is killed and its result is `timeout`.
HARD_LIMIT_FACTOR = 1.5
HARD_LIMIT_MARGIN = 120
#: How often, in seconds, the batch looks at its workers.
POLL_SECONDS = 1.0


def _prepare(work: tuple[Path, Path, str]) -> Chapter | Exception:
    """`runner.prepare_chapter(source, folder, dependencies)`, or the error it raised."""
    try:
        return prepare_chapter(*work)
    except Exception as error:
        return error


def result_path(out: Path, submission: Submission) -> Path:
    return out / "results" / f"{submission.key}.json"


def grader_digest() -> str:
    """The hash of what every grade depends on besides the submission and its source notebook:
    the course library and `GRADER_VERSION`."""
    return library.library_digest(REPO, GRADER_VERSION.encode())


# ---------------------------------------------------------------------------------------------
# Worker processes


def _worker(jobs: list[tuple[Submission, object, str]], out: Path, options: Options) -> None:
    """A worker process: grades one student's submissions `jobs` (`(submission, chapter,
    digest)`, in chapter order) in one sandbox (`runner.StudentSandbox`) and writes each result
    as soon as it is graded."""
    try:  # die with the batch (a killed batch leaves no orphan grading on)
        import ctypes

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:
        pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with StudentSandbox(options.isolation, options.limits()) as students:
        for submission, chapter, key in jobs:
            results_io.save(result_path(out, submission), grade_one(submission, chapter, out, options, key, students))


def _lost(submission: Submission, chapter, out: Path, key: str, seconds: float, status: str, text: str) -> Result:
    """The result written by the batch for a worker that died or ran out of time."""
    result = new_result(submission, chapter if isinstance(chapter, Chapter) else None, status, text)
    result.digest, result.seconds = key, round(seconds, 1)
    return _keep(out, submission, result, page=True)


def _keep(out: Path, submission: Submission, result: Result, page: bool = False) -> Result:
    """Writes `result` (and, with `page`, its page saying why it was not graded); a failure to
    write them becomes a note of this result, never the batch's end."""
    try:
        if page:
            write_not_graded_page(out, result)
        results_io.save(result_path(out, submission), result)
    except Exception as error:
        result.notes.append(f"the grader could not write this result: {one_line(error)}")
    return result


def submission_key(submission: Submission, source: Path | None, dependencies: str) -> str:
    """The hash a result of `submission` depends on: the submitted file (read within bounds:
    a file that cannot be read safely hashes as its reason, and `read_submission` refuses it),
    the chapter's source notebook and the grader's `dependencies`."""
    try:
        submitted = b"" if submission.problem else read_regular(submission.path, MAX_NOTEBOOK_BYTES)
    except UnsafeFile as error:
        submitted = f"unreadable: {error}".encode()
    return digest(submitted, submission.problem.encode(), source.read_bytes() if source else b"", dependencies.encode())


def by_student(jobs: list[tuple[Submission, object, str]]) -> list[list[tuple[Submission, object, str]]]:
    """`jobs` grouped by student, in the order students first appear, each group in chapter order
    (a student's sandbox grades their chapters in order: `Sandbox.next_chapter`)."""
    groups: dict[str, list[tuple[Submission, object, str]]] = {}
    for job in jobs:
        groups.setdefault(job[0].student, []).append(job)
    return [sorted(group, key=lambda job: job[0].chapter) for group in groups.values()]


def run_workers(
    jobs: list[tuple[Submission, object, str]], out: Path, options: Options, on_result, context=None
) -> None:
    """Grades `jobs` (`(submission, chapter, digest)`), one worker process per student
    (`by_student`), `options.jobs` at a time, and calls `on_result(submission, result)` for
    each; a worker that dies or runs past the notebooks' time limit (with a margin) gets an
    `error` or `timeout` result written by this process for each submission it left."""
    context = context or start_workers()
    queue, running = by_student(jobs), {}
    while queue or running:
        while queue and len(running) < max(1, options.jobs):
            group = queue.pop(0)
            process = context.Process(target=_worker, args=(group, out, options))
            process.start()
            running[process] = (group, time.monotonic())
        multiprocessing.connection.wait([p.sentinel for p in running], timeout=POLL_SECONDS)
        for process in list(running):
            group, start = running[process]
            hard_limit = _hard_limit(options, len(group))
            overdue = hard_limit is not None and time.monotonic() - start > hard_limit
            if process.is_alive() and not overdue:
                continue
            if overdue:
                process.kill()
            process.join()
            del running[process]
            for submission, chapter, key in group:
                result = results_io.load(result_path(out, submission))
                if result is None or result.digest != key:
                    status, text = (
                        ("timeout", f"grading stopped after {hard_limit:.0f} s")
                        if overdue
                        else ("error", f"the grading process died (exit code {process.exitcode})")
                    )
                    result = _lost(submission, chapter, out, key, time.monotonic() - start, status, text)
                on_result(submission, result)


def _hard_limit(options: Options, notebooks: int) -> float | None:
    """Seconds a worker that grades `notebooks` notebooks may run (None: no limit)."""
    if not options.notebook_timeout:
        return None
    return notebooks * (options.notebook_timeout * HARD_LIMIT_FACTOR + HARD_LIMIT_MARGIN)


# ---------------------------------------------------------------------------------------------
# The batch


class Batch:
    """One run of `grade` over a class: the results so far, the chapters prepared, the database
    (`--db`) and what could not be written to it."""

    def __init__(self, out: Path, options: Options, sources: dict[str, Path], workdir: Path):
        self.out, self.options, self.sources, self.workdir = out, options, sources, workdir
        self.database = ClassGradebook(options.db) if options.db else None
        self.results: dict[str, Result] = {}
        self.chapters: dict[str, Chapter | Exception] = {}
        self.structures: dict[str, dict] = {}
        self.unsynced: list[str] = []
        self.unchanged = 0
        self.keys: dict[str, str] = {}  # `key`
        self.previous: dict[str, Result | None] = {}  # `kept`
        self.dependencies = grader_digest()

    def record(self, submission: Submission, result: Result, note: str = "") -> None:
        """Keeps `result`, writes it to the database and prints its line."""
        self.results[submission.key] = result
        self.sync(result)
        print(summary_line(result, note), flush=True)

    def sync(self, result: Result) -> None:
        """Writes `result` to the database gradebook, if there is one; a failure is reported
        at the end (the result stays in DIR/results, and a re-run writes it)."""
        if self.database is None:
            return
        source = self.sources.get(result.chapter)
        try:
            if source is not None and result.chapter not in self.structures:
                self.structures[result.chapter] = chapter_cells(source)
            self.database.record(result, self.structures.get(result.chapter))
        except Exception as error:
            self.unsynced.append(f"{result.student}/{result.chapter}: {one_line(error)}")
            print(f"warning: {self.unsynced[-1]}: not written to the gradebook", flush=True)

    def chapter(self, name: str) -> Chapter | Exception:
        """The chapter `name`, prepared once (or the error that preparing it raised)."""
        if name not in self.chapters:
            self.chapters[name] = _prepare((self.sources[name], self.workdir / "chapters", self.dependencies))
        return self.chapters[name]

    def prepare(self, found: list[Submission], context) -> None:
        """Prepares the chapters that submissions of `found` will be graded against (those without
        an up-to-date result), `options.jobs` at a time, in processes of `context`."""
        names = sorted(
            {
                s.chapter
                for s in found
                if s.chapter in self.sources
                and not s.problem
                and s.chapter not in self.chapters
                and self.kept(s) is None
            }
        )
        if self.options.jobs < 2 or len(names) < 2:
            return  # `chapter` prepares each in this process when it is first needed
        work = [
            (self.sources[name], self.workdir / "chapters" / f"pool{i}", self.dependencies)
            for i, name in enumerate(names)
        ]
        try:
            with context.Pool(min(self.options.jobs, len(names))) as pool:
                self.chapters.update(zip(names, pool.map(_prepare, work)))
        except Exception:  # the pool itself failed (an error that cannot cross, say): one at a time, here
            for name in names:
                self.chapters.pop(name, None)

    def key(self, submission: Submission) -> str:
        """`submission_key` of `submission`, computed once."""
        if submission.key not in self.keys:
            source = self.sources.get(submission.chapter)
            self.keys[submission.key] = submission_key(submission, source, self.dependencies)
        return self.keys[submission.key]

    def kept(self, submission: Submission) -> Result | None:
        """The stored result of `submission` when it is up to date (and `--force` is not given),
        read once."""
        if submission.key not in self.previous:
            previous = None if self.options.force else results_io.load(result_path(self.out, submission))
            fresh = previous and previous.digest == self.key(submission) and previous.status != "error"
            self.previous[submission.key] = previous if fresh else None
        return self.previous[submission.key]

    def plan(self, found: list[Submission]) -> list[tuple[Submission, object, str]]:
        """Keeps the results that are up to date, grades here what needs no worker (files that
        are not notebooks, chapters that cannot be prepared) and returns the jobs left. Whatever
        goes wrong with one submission becomes its own `error` row; the others go on."""
        jobs = []
        for submission in found:
            try:
                job = self.plan_one(submission)
            except Exception as error:  # the grader's failure on this file: its row says so
                result = new_result(submission, None, "error", f"the grader failed on this file: {one_line(error)}")
                self.record(submission, _keep(self.out, submission, result, page=True))
                continue
            if job is not None:
                jobs.append(job)
        return jobs

    def plan_one(self, submission: Submission) -> tuple[Submission, object, str] | None:
        """`plan` for one submission: its job, or None when its result is recorded here."""
        source = self.sources.get(submission.chapter)
        key, previous = self.key(submission), self.kept(submission)
        if previous is not None:
            self.unchanged += 1
            self.record(submission, previous, "unchanged, kept")
            return None
        chapter = None
        if source is not None and not submission.problem:
            chapter = self.chapter(submission.chapter)
            try:
                read_submission(submission.path)
            except InvalidSubmission as error:  # no need for a worker
                submission = copy.copy(submission)
                submission.problem = str(error)
        if submission.problem or isinstance(chapter, Exception):
            result = grade_one(submission, chapter, self.out, self.options, key)
            self.record(submission, _keep(self.out, submission, result))
            return None
        return submission, chapter, key

    def run(self, found: list[Submission]) -> list[Result]:
        """Grades `found`; returns their results in the same order."""
        self.out.mkdir(parents=True, exist_ok=True)
        for stale in self.out.rglob(".*.tmp"):
            stale.unlink()  # half-written by a run that was killed (see files.write_atomic)
        isolation = self.options.isolation
        print(
            f"grading {len(found)} files with isolation {isolation} "
            f"({sandbox.DESCRIPTIONS[isolation]}), {self.options.jobs} at a time",
            flush=True,
        )
        try:
            context = start_workers()
            self.prepare(found, context)
            run_workers(self.plan(found), self.out, self.options, self.record, context)
        finally:
            if self.database is not None:
                self.database.close()
        return [self.results[s.key] for s in found]


def check_options(options: Options) -> Shard | None:
    """Resolves `options.isolation` (`auto`) and parses `--shard`; raises `UsageError`."""
    try:
        options.isolation = sandbox.resolve(options.isolation)
    except (RuntimeError, ValueError) as error:
        raise UsageError(str(error)) from None
    shard = Shard.parse(options.shard) if options.shard else None
    if shard is not None and not options.db:
        raise UsageError("--shard needs --db: the machines' results meet in that gradebook")
    return shard


def grade(submissions: Path, out: Path, solutions: Path, options: Options | None = None) -> int:
    """Grades every submission, writes DIR's files and returns the exit code (0 once the batch
    ran, whatever the submissions were; 1 when results could not be written to `--db`; 2 on
    usage errors, raised as `UsageError`)."""
    options = copy.copy(options or Options())
    out, submissions = out.resolve(), submissions.resolve()
    sources = notebooks.chapter_sources(solutions.resolve())
    if not sources:
        raise UsageError(f"no source notebooks in {solutions}/")
    shard = check_options(options)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        workdir = Path(tmp)
        root, refused = open_submissions(submissions, workdir)
        found = find_submissions(root, list(sources), refused)
        if not found:
            raise UsageError(f"no submissions in {submissions}: expected <student>/<chapter>.ipynb or an LMS export")
        if shard is not None:
            everyone = len(found)
            found = [s for s in found if shard.owns(s.student)]
            print(f"shard {shard}: {len(found)} of the {everyone} files", flush=True)
        batch = Batch(out, options, sources, workdir)
        ordered = batch.run(found)
        similar = similarity.write_report(out, found, sources, options.similarity_threshold)  # similarity.csv
    write_class_files(out, ordered, (similar,))
    return report_end(ordered, batch, options)


def report_end(ordered: list[Result], batch: Batch, options: Options) -> int:
    """Prints the counts of each status and the database's outcome; returns the exit code."""
    counts = ", ".join(
        f"{sum(r.status == s for r in ordered)} {s}" for s in STATUSES if any(r.status == s for r in ordered)
    )
    print(
        f"{len(ordered)} submissions: {counts}; grades in {batch.out / 'grades.csv'}"
        + (f" ({batch.unchanged} unchanged since the last run, kept)" if batch.unchanged else "")
    )
    if not options.db:
        return 0
    if batch.unsynced:
        print(
            f"error: {len(batch.unsynced)} results were not written to the gradebook "
            f"{display_url(options.db)} (they are kept in {batch.out / 'results'}): run the "
            "same command again to write them",
            file=sys.stderr,
        )
        return 1
    print(f"gradebook {display_url(options.db)}: {len(ordered)} results written")
    return 0


def summary_line(result: Result, note: str = "") -> str:
    """The line printed for one result."""
    line = f"{result.student or '.'}/{result.chapter}: {result.status}"
    if result.graded:
        line += f" {result.score:g}/{result.max_score:g}"
        if result.manual_max:
            line += f" (+{result.manual_max:g} to grade by hand)"
    if result.message:
        line += f" - {result.message}"
    return f"{line} [{note or f'{result.seconds:.1f} s'}]"
