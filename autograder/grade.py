"""`python -m autograder grade SUBMISSIONS --out DIR`: grade a whole class with nbgrader.

SUBMISSIONS is a folder of `<student>/<chapter>.ipynb`, or a .zip of one (single top-level
folders are stepped into). Every submission is autograded in a course of its own (a copy of the
chapter's course where `generate_assignment` ran once), with its own gradebook, in fast mode
(`VAELAB_FAST=1`, and nbgrader's `NBGRADER_EXECUTION`) and with a per-cell timeout. Nothing is
written outside the temporary folders and DIR.

DIR receives:

- `grades.csv`: one row per file found, columns `GRADES_COLUMNS`:
  `score` / `max_score` are the autograded points (test cells); `manual_max` the points of the
  written answers, which wait for a human grader; `status` one of `STATUSES`; `message` says
  what went wrong (failed tests, deleted cells, the reason a file is invalid).
- `scores_by_function.csv`: one row per graded cell of every submission that nbgrader graded,
  columns `CELL_COLUMNS`; `kind` is `auto` (a test cell, `grade_id` test_<function>...) or
  `manual` (a written answer; `score` empty while it waits for a human grader, 0 when left
  unanswered).
- `feedback/<student>/<chapter>.html`: nbgrader's feedback (every cell with its output, so the
  assertion messages of failed tests), or a short page saying why the file was not graded.
- `logs/<student>/<chapter>.log`: nbgrader's log, for the instructor.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from . import notebooks
from .course import Course, NbgraderError

#: `graded`; `missing_cells`: graded, but graded or answer cells were deleted (they score 0);
#: `timeout`: graded, but a cell ran out of time (it scores 0); `invalid`: not a chapter
#: notebook (not JSON, not nbformat 4, unknown file name or place); `error`: nbgrader failed.
STATUSES = ("graded", "missing_cells", "timeout", "invalid", "error")
GRADES_COLUMNS = ["student", "chapter", "score", "max_score", "manual_max", "status", "message"]
CELL_COLUMNS = ["student", "chapter", "grade_id", "kind", "score", "max_score"]


class UsageError(Exception):
    """A problem with the command line (exit code 2)."""


class InvalidSubmission(Exception):
    """A file that is not a gradable chapter notebook; the message says why."""


@dataclass
class Submission:
    """One file found in SUBMISSIONS; `problem` is why its name or place is wrong, if it is."""

    student: str
    chapter: str
    path: Path
    problem: str = ""


@dataclass
class Chapter:
    """A chapter ready for grading: `template` is a course where its assignment is generated;
    `cells` maps each graded cell's grade_id to `(kind, points)`; `answers` are the grade_ids
    that a submission must still contain (graded and answer cells)."""

    name: str
    template: Path
    cells: dict[str, tuple[str, float]]
    answers: set[str]


@dataclass
class Result:
    """The outcome for one submission; `cells` holds `(grade_id, kind, score, max_score)`."""

    student: str
    chapter: str
    status: str
    message: str = ""
    cells: list[tuple[str, str, float | None, float]] = field(default_factory=list)
    max_score: float = 0.0
    manual_max: float = 0.0

    @property
    def score(self) -> float:
        return sum(score or 0.0 for _, kind, score, _ in self.cells if kind == "auto")

    def row(self) -> dict[str, str]:
        return {"student": self.student, "chapter": self.chapter, "score": f"{self.score:g}",
                "max_score": f"{self.max_score:g}", "manual_max": f"{self.manual_max:g}",
                "status": self.status, "message": self.message}


def _answer_ids(nb: NotebookNode) -> set[str]:
    """grade_ids of the graded cells and of the answer cells."""
    return {cell.metadata.nbgrader.get("grade_id") for cell in nb.cells
            if nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell)}


def prepare_chapter(solution: Path, workdir: Path) -> Chapter:
    """Runs `generate_assignment` for `solution` once, in `workdir/<chapter>`."""
    template = workdir / solution.stem
    template.mkdir(parents=True)
    released = Course(template).generate_assignment(solution)
    cells = {}
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = ("manual" if meta.get("solution") else "auto",
                                       float(meta["points"]))
    return Chapter(solution.stem, template, cells, _answer_ids(released))


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def submissions_root(path: Path, workdir: Path) -> Path:
    """The folder that holds the student folders: `path` itself or the extracted zip, stepping
    into a single top-level folder that holds no notebook itself."""
    if not path.exists():
        raise UsageError(f"SUBMISSIONS {path} does not exist")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UsageError(f"SUBMISSIONS {path} is neither a folder nor a .zip file")
        with zipfile.ZipFile(path) as archive:
            archive.extractall(workdir / "submissions")
        path = workdir / "submissions"
    while True:
        entries = [entry for entry in path.iterdir() if not _hidden(entry.name)]
        if len(entries) == 1 and entries[0].is_dir() and not any(entries[0].glob("*.ipynb")):
            path = entries[0]
        else:
            return path


def find_submissions(root: Path, chapters: list[str]) -> list[Submission]:
    """Every file under `root` (hidden ones aside), as a `Submission`."""
    expected = ", ".join(f"{name}.ipynb" for name in chapters)
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(_hidden(part) for part in relative.parts):
            continue
        student = relative.parts[0] if len(relative.parts) > 1 else ""
        chapter = path.stem if path.suffix == ".ipynb" else path.name
        problem = ""
        if len(relative.parts) != 2:
            problem = f"misplaced file {relative.as_posix()}: expected <student>/<chapter>.ipynb"
        elif path.suffix != ".ipynb" or path.stem not in chapters:
            problem = f"unknown chapter file {path.name!r}: expected one of {expected}"
        found.append(Submission(student, chapter, path, problem))
    return found


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


def _timed_out(nb: NotebookNode) -> list[str]:
    """The cells whose execution ran out of time (nbgrader records a CellTimeoutError)."""
    return [cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
            for index, cell in enumerate(nb.cells)
            if any(output.get("ename") == "CellTimeoutError" for output in cell.get("outputs", []))]


def new_result(submission: Submission, chapter: Chapter | None, status: str,
               message: str = "") -> Result:
    """A result without scores yet; the maxima come from the chapter, when it is known."""
    result = Result(submission.student, submission.chapter, status, message)
    if chapter is not None:
        result.max_score = sum(p for kind, p in chapter.cells.values() if kind == "auto")
        result.manual_max = sum(p for kind, p in chapter.cells.values() if kind == "manual")
    return result


def grade_submission(submission: Submission, chapter: Chapter, out: Path,
                     timeout: int) -> Result:
    """Autogrades one valid-looking submission in a copy of the chapter's course; writes its
    feedback and log under `out`. Raises `InvalidSubmission`, or anything else on a failure
    (the caller reports it)."""
    result = new_result(submission, chapter, "graded")
    submitted = read_submission(submission.path)
    with tempfile.TemporaryDirectory(prefix="autograder-grade-") as tmp:
        course = Course(shutil.copytree(chapter.template, Path(tmp) / "course"), timeout)
        notebooks.write(drop_duplicate_ids(submitted), Path(tmp) / "submitted.ipynb")
        try:
            with notebooks.environment(VAELAB_FAST="1", NBGRADER_EXECUTION="autograde"):
                graded = course.autograde(chapter.name, Path(tmp) / "submitted.ipynb")
            scores = course.scores(chapter.name)
            feedback = course.generate_feedback(chapter.name)
            _save(out / "feedback" / submission.student / f"{chapter.name}.html",
                  feedback.read_text(encoding="utf-8"))
        finally:
            _save(out / "logs" / submission.student / f"{chapter.name}.log", course.log)
    for grade_id, (kind, points) in chapter.cells.items():
        score = scores.get(grade_id, (None, points))[0]  # None: waits for a human grader
        result.cells.append((grade_id, kind, (score or 0.0) if kind == "auto" else score, points))
    missing = sorted(chapter.answers - _answer_ids(submitted))
    timed_out = _timed_out(graded)
    failed = [g for g, kind, score, points in result.cells
              if kind == "auto" and score < points and g not in missing]
    notes = [f"missing cells: {', '.join(missing)}" if missing else "",
             f"timed out (> {timeout} s per cell): {', '.join(timed_out)}" if timed_out else "",
             f"failed: {', '.join(failed)}" if failed else ""]
    result.message = "; ".join(note for note in notes if note)
    result.status = "timeout" if timed_out else "missing_cells" if missing else "graded"
    return result


def _save(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _not_graded_page(result: Result) -> str:
    title = html.escape(f"{result.student}/{result.chapter}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body><h1>{title}: not graded ({result.status})</h1>"
            f"<p>{html.escape(result.message)}</p></body></html>\n")


def grade(submissions: Path, out: Path, solutions: Path, timeout: int = 180) -> int:
    """Grades every submission, writes DIR's files and returns the exit code (0 once the batch
    ran, whatever the submissions were; 2 on usage errors)."""
    sources = notebooks.chapter_sources(solutions)
    if not sources:
        raise UsageError(f"no source notebooks in {solutions}/")
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        workdir = Path(tmp)
        found = find_submissions(submissions_root(submissions, workdir), list(sources))
        if not found:
            raise UsageError(f"no submissions in {submissions}: expected <student>/<chapter>.ipynb")
        chapters: dict[str, Chapter | Exception] = {}
        results = []
        for submission in found:
            start = time.monotonic()
            chapter = None
            try:
                if submission.problem:
                    raise InvalidSubmission(submission.problem)
                if submission.chapter not in chapters:
                    try:
                        chapters[submission.chapter] = prepare_chapter(
                            sources[submission.chapter], workdir / "chapters")
                    except Exception as error:
                        chapters[submission.chapter] = error
                chapter = chapters[submission.chapter]
                if isinstance(chapter, Exception):
                    error, chapter = chapter, None
                    raise RuntimeError(f"cannot prepare the chapter: {error}")
                result = grade_submission(submission, chapter, out, timeout)
            except InvalidSubmission as error:
                result = new_result(submission, chapter, "invalid", str(error))
            except Exception as error:
                message = str(error) if isinstance(error, NbgraderError) else (
                    traceback.format_exception_only(type(error), error)[-1].strip())
                result = new_result(submission, chapter, "error", message)
            if result.status in ("invalid", "error") and result.student:
                _save(out / "feedback" / result.student / f"{result.chapter}.html",
                      _not_graded_page(result))
            results.append(result)
            print(_summary(result, time.monotonic() - start), flush=True)
    _write_csv(out / "grades.csv", GRADES_COLUMNS, [r.row() for r in results])
    _write_csv(out / "scores_by_function.csv", CELL_COLUMNS, [
        {"student": r.student, "chapter": r.chapter, "grade_id": grade_id, "kind": kind,
         "score": "" if score is None else f"{score:g}", "max_score": f"{points:g}"}
        for r in results for grade_id, kind, score, points in r.cells])
    counts = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in STATUSES
                       if any(r.status == s for r in results))
    print(f"{len(results)} submissions: {counts}; grades in {out / 'grades.csv'}")
    return 0


def _summary(result: Result, seconds: float) -> str:
    line = f"{result.student or '.'}/{result.chapter}: {result.status}"
    if result.status not in ("invalid", "error"):
        line += f" {result.score:g}/{result.max_score:g}"
        if result.manual_max:
            line += f" (+{result.manual_max:g} to grade by hand)"
    if result.message:
        line += f" - {result.message}"
    return f"{line} [{seconds:.1f} s]"


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
