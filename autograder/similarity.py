"""The class's similarity report: answers copied between students, or from the reference solution.

For every autograded answer cell of a chapter (its nbgrader `grade_id` is the exercise's name, see
the grading contract), every submission's answer is

1. normalised (`normalise`): the exercise function's body and any other statement of the cell,
   without comments, docstrings, blank lines or the student's layout (`ast.unparse`), its
   statements in a canonical order (the order of their tokens), so that reordered lines match;
2. fingerprinted with `copydetect` (MOSS's winnowing): its tokeniser replaces every identifier by
   one letter, so renamed variables, reordered or reformatted lines and added comments do not
   change what is compared; k-grams that the released stub holds are boilerplate;
3. compared with every other submission's answer of the same exercise and with the reference
   (the code between `### BEGIN SOLUTION` and `### END SOLUTION` of the source notebook).

The similarity of two answers is the smaller of copydetect's two overlaps (the share of each
answer's fingerprinted tokens found in the other), in [0, 1]: a pair is flagged when both answers
are mostly made of the other, at or above the instructor's `--similarity-threshold`. Answers that
are still the released stub (or an empty body) are skipped: unanswered stubs are all alike.

Output (`write_report`): `similarity.csv` in the grading output folder, columns `COLUMNS`, one row
per pair at or above the threshold less `NEAR` (`flagged` yes from the threshold on), `student_b`
`reference` for a match with the reference solution, and one row with a `note` for a notebook that
cannot be read or that holds no answer; and the section of `summary.html` (`html_section`): a
table of flagged pairs per exercise.

A similarity measures shared structure, not intent: short answers (a one-line formula) are alike
in every class, and the report says so in its note column (`SHORT_TOKENS`).
"""

from __future__ import annotations

import ast
import html
import io
import keyword
import os
import re
import textwrap
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader import utils as nbgrader_utils

from . import notebooks
from .files import write_atomic
from .inputs import Submission
from .result import csv_text

#: Flag a pair whose similarity (both directions' overlap, in [0, 1]) is at least this. Measured
#: on the answers of tests/corpus (`python tests/test_autograder_similarity.py`): of the 416 pairs
#: of independent correct answers of one exercise, none reaches 0.9 (the highest: 0.83), while
#: all 336 copies disguised by renaming, reordering independent lines, reformatting and comments
#: score 1. A copy also rewritten (the returned value through a new variable, `sum(dim=-1)`)
#: reaches 0.9 in 153 of 336 cases: a lower threshold finds more of those, and many honest pairs
#: too, in a class of hundreds (n (n - 1) / 2 pairs per exercise).
DEFAULT_THRESHOLD = 0.9
#: Pairs below the threshold are still listed in the CSV (not flagged) down to this much below it,
#: so that the instructor sees what is close.
NEAR = 0.1
#: The summary page lists at most this many flagged pairs per exercise (the CSV has them all).
HTML_ROWS = 50
#: copydetect's k-gram length, in characters of the tokenised code (identifiers are one letter,
#: white space is dropped): answers are a few lines, so shorter than copydetect's default 25.
K = 12
#: The winnowing window; 1 keeps every k-gram (answer cells are short, every k-gram is cheap).
WINDOW = 1
#: An answer of fewer tokenised characters than this is a one-line formula: identical code is
#: common among honest answers, and the note says so.
SHORT_TOKENS = 40
REFERENCE = "reference"
COLUMNS = ["chapter", "exercise", "student_a", "student_b", "similarity", "flagged", "note"]


@dataclass(frozen=True)
class Exercise:
    """One autograded answer cell of a chapter: its normalised stub (what every student gets)
    and its normalised reference solution."""

    chapter: str
    name: str
    stub: str
    reference: str


@dataclass(frozen=True)
class Row:
    """One row of `similarity.csv`: a pair (`student_b` a student or `REFERENCE`) with its
    similarity in [0, 1], or a note about one submission (`similarity` None)."""

    chapter: str
    exercise: str
    student_a: str
    student_b: str = ""
    similarity: float | None = None
    flagged: bool = False
    note: str = ""

    def csv_row(self) -> dict[str, str]:
        return {
            "chapter": self.chapter,
            "exercise": self.exercise,
            "student_a": self.student_a,
            "student_b": self.student_b,
            "similarity": "" if self.similarity is None else f"{self.similarity:.3f}",
            "flagged": "yes" if self.flagged else "no",
            "note": self.note,
        }


@dataclass
class Report:
    """The similarity report of a class: its rows (pairs sorted by exercise, then by decreasing
    similarity; notes last) and the threshold used."""

    threshold: float
    rows: list[Row] = field(default_factory=list)

    def flagged(self) -> list[Row]:
        return [r for r in self.rows if r.flagged]


# ---------------------------------------------------------------------------------------------
# Normalisation


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_stub(node: ast.stmt) -> bool:
    """`raise NotImplementedError(...)` or `pass`: what a stub's body holds."""
    if isinstance(node, ast.Pass):
        return True
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _strip_docstrings(tree: ast.AST) -> None:
    """Removes the docstrings of every function and class of `tree`, in place."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.body = [s for s in node.body if not _is_docstring(s)] or [ast.Pass()]


def normalise(code: str, name: str) -> str:
    """The answer in `code` (a cell's source) as compared: the body of the function `name` and
    the cell's other statements (helpers, imports), without docstrings, comments, blank lines or
    the author's layout, the statements sorted (see `_order`). Empty when the function's body is
    a stub (`raise NotImplementedError`, `pass`) and the cell holds nothing else. Code that does
    not parse keeps its text, less its comment and blank lines."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):
        return _strip_text(code)
    _strip_docstrings(tree)
    statements = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            statements += [s for s in node.body if not _is_stub(s)]
        elif not _is_docstring(node) and not _is_stub(node):
            statements.append(node)
    return "\n".join(sorted((ast.unparse(s) for s in statements), key=_order))


def _order(statement: str) -> tuple[str, str]:
    """Statements are compared in the order of their text with every name abstracted (as
    copydetect's tokeniser abstracts identifiers), so that swapping two independent lines, even
    renamed ones, changes nothing."""
    abstract = _NAME.sub(lambda m: m[0] if keyword.iskeyword(m[0]) else "V", statement)
    return re.sub(r"\s+", "", abstract), statement


_NAME = re.compile(r"[^\W\d]\w*")


def _strip_text(code: str) -> str:
    """`code` less its comments and blank lines, for code that does not parse."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.COMMENT]
        code = tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        code = re.sub(r"(?m)^\s*#.*$", "", code)
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def solution_region(source: str) -> str:
    """The lines between `### BEGIN SOLUTION` and `### END SOLUTION` of a source cell, dedented."""
    inside, lines = False, []
    for line in source.splitlines():
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside:
            lines.append(line)
    return textwrap.dedent("\n".join(lines))


def is_answer_cell(cell) -> bool:
    """Whether `cell` is an autograded answer cell: code, nbgrader solution, not graded itself."""
    return cell.cell_type == "code" and nbgrader_utils.is_solution(cell) and not nbgrader_utils.is_grade(cell)


def exercises(chapter: str, source: str | os.PathLike) -> dict[str, Exercise]:
    """`{grade_id: Exercise}` of the autograded answer cells of the source notebook `source`."""
    nb = notebooks.read(source)
    view = notebooks.student_view(nb)
    found = {}
    for cell, stub in zip(nb.cells, view.cells, strict=True):
        name = notebooks.grade_id(cell)
        if name and is_answer_cell(cell):
            reference = normalise(solution_region(cell.source), name)
            found[name] = Exercise(chapter, name, normalise(stub.source, name), reference)
    return found


# ---------------------------------------------------------------------------------------------
# Fingerprints and comparison


def fingerprint(code: str, boilerplate: Iterable[int] = ()):
    """copydetect's fingerprint (a `copydetect.CodeFingerprint`) of normalised Python `code`,
    less the k-gram hashes in `boilerplate`."""
    import numpy as np
    from copydetect import CodeFingerprint

    hashes = np.fromiter(boilerplate, dtype=np.int64)
    return CodeFingerprint("answer.py", K, WINDOW, boilerplate=hashes, fp=io.StringIO(code), language="python")


def similarity(a, b) -> float:
    """The similarity in [0, 1] of two fingerprints: the smaller of the shares of each one's
    fingerprinted tokens that the other holds, as copydetect's `compare_files` computes them
    (`token_overlap / token_coverage`, both directions; a test checks the two agree), without
    its per-call array work (a class of 300 has 44,850 pairs per exercise). Code too short for
    one k-gram is similar (1) only when its tokens are those of the other."""
    if not a.token_coverage or not b.token_coverage:
        return float(bool(a.filtered_code) and a.filtered_code == b.filtered_code)
    shared = a.hashes & b.hashes
    if not shared:
        return 0.0
    ab = _covered([i for h in shared for i in a.hash_idx[h]], a.k) / a.token_coverage
    ba = _covered([i for h in shared for i in b.hash_idx[h]], b.k) / b.token_coverage
    return float(min(ab, ba, 1.0))


def _covered(starts: list[int], k: int) -> int:
    """How many characters the k-grams starting at `starts` cover: |union of [i, i + k)|."""
    total, reach = 0, 0
    for start in sorted(starts):
        total += start + k - max(start, reach)
        reach = start + k
    return total


def compare_exercise(exercise: Exercise, answers: Mapping[str, str], threshold: float) -> list[Row]:
    """The rows of one exercise: every pair of `answers` (`{student: normalised answer}`, stubs
    already left out) and every answer's match with the reference, at or above
    `threshold - NEAR`, by decreasing similarity."""
    floor = max(threshold - NEAR, 0.0)
    boilerplate = fingerprint(exercise.stub).hashes if exercise.stub else set()
    prints = {code: fingerprint(code, boilerplate) for code in {*answers.values(), exercise.reference}}
    cache: dict[tuple[str, str], float] = {}

    def pair(a: str, b: str) -> float:
        # what copydetect compares is the tokenised code: answers that differ only in their names
        # are compared once (a class has far fewer shapes of an answer than answers)
        a_tokens, b_tokens = prints[a].filtered_code, prints[b].filtered_code
        key = (a_tokens, b_tokens) if a_tokens <= b_tokens else (b_tokens, a_tokens)
        if key not in cache:
            cache[key] = similarity(prints[a], prints[b])
        return cache[key]

    students = sorted(answers)
    candidates = [(a, b) for i, a in enumerate(students) for b in students[i + 1 :]]
    candidates += [(a, REFERENCE) for a in students if exercise.reference]
    rows = []
    for a, b in candidates:
        code_a, code_b = answers[a], exercise.reference if b == REFERENCE else answers[b]
        value = pair(code_a, code_b)
        if value >= floor:
            short = min(len(prints[code_a].filtered_code), len(prints[code_b].filtered_code)) < SHORT_TOKENS
            note = "short answer: honest answers are often identical" if short else ""
            rows.append(Row(exercise.chapter, exercise.name, a, b, value, value >= threshold, note))
    return sorted(rows, key=lambda r: -(r.similarity or 0))


# ---------------------------------------------------------------------------------------------
# A class


def read_answers(path: Path, chapter: dict[str, Exercise]) -> dict[str, str]:
    """`{exercise: normalised answer}` of the submitted notebook at `path`, for the answer cells
    it holds that differ from the released stub (the first cell of each `grade_id`). Raises
    what reading the notebook raises."""
    answers: dict[str, str] = {}
    for cell in notebooks.read(path).cells:
        name = notebooks.grade_id(cell)
        if name in chapter and name not in answers and cell.cell_type == "code":
            answers[name] = normalise(cell.source, name)
    return {name: code for name, code in answers.items() if code and code != chapter[name].stub}


def class_report(
    submissions: Iterable[Submission], sources: Mapping[str, Path], threshold: float = DEFAULT_THRESHOLD
) -> Report:
    """The similarity report of `submissions` (`inputs.Submission`; those without a chapter, or
    with a `problem`, are left out: grades.csv says why), against the chapters' source notebooks
    `sources` (`{chapter: path}`)."""
    report = Report(threshold)
    by_chapter: dict[str, list[Submission]] = {}
    for submission in submissions:
        if submission.chapter in sources and not submission.problem:
            by_chapter.setdefault(submission.chapter, []).append(submission)
    notes = []
    for chapter, group in sorted(by_chapter.items()):
        try:
            known = exercises(chapter, sources[chapter])
        except Exception as error:  # a broken source notebook: one note, the other chapters go on
            notes.append(Row(chapter, "", "", note=f"source notebook not readable: {_one_line(error)}"))
            continue
        answers: dict[str, dict[str, str]] = {name: {} for name in known}
        for submission in group:
            try:
                found = read_answers(submission.path, known)
            except Exception as error:
                notes.append(Row(chapter, "", submission.student, note=f"notebook not readable: {_one_line(error)}"))
                continue
            if not found:
                notes.append(Row(chapter, "", submission.student, note="no answer: every answer cell is a stub"))
            for name, code in found.items():
                answers[name][submission.student] = code
        for name, exercise in known.items():
            report.rows += compare_exercise(exercise, answers[name], threshold)
    report.rows += notes
    return report


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


# ---------------------------------------------------------------------------------------------
# Output


def report_csv(report: Report) -> str:
    """`similarity.csv` (columns `COLUMNS`), through `result.csv_text`."""
    return csv_text(COLUMNS, [r.csv_row() for r in report.rows])


def html_section(report: Report) -> str:
    """The section of `summary.html`: per exercise, a table of the flagged pairs; then the notes."""
    flagged: dict[tuple[str, str], list[Row]] = {}
    for row in report.flagged():
        flagged.setdefault((row.chapter, row.exercise), []).append(row)
    parts = [
        "<h2>Similarity of answers</h2>"
        f"<p>Pairs of answers whose similarity (the share of each answer's code found in the other, "
        f"identifiers and layout ignored) is at least {report.threshold:.2f}; "
        f"<code>{REFERENCE}</code>: the reference solution. A similarity is a reason to look, not "
        "a proof: short answers are often identical. Every pair above "
        f"{max(report.threshold - NEAR, 0):.2f} is in similarity.csv.</p>"
    ]
    if not flagged:
        parts.append("<p>No pair of answers at or above the threshold.</p>")
    for (chapter, exercise), rows in sorted(flagged.items()):
        lines = "".join(
            f"<tr><td>{_e(r.student_a)}</td><td>{_e(r.student_b)}</td><td>{r.similarity:.2f}</td>"
            f"<td>{_e(r.note)}</td></tr>"
            for r in rows[:HTML_ROWS]
        )
        more = f"<p>{len(rows) - HTML_ROWS} more in similarity.csv.</p>" if len(rows) > HTML_ROWS else ""
        parts.append(
            f"<h3>{_e(chapter)}: <code>{_e(exercise)}</code> ({len(rows)} pairs)</h3>"
            f"<table><tr><th>student</th><th>student</th><th>similarity</th><th>note</th></tr>{lines}</table>{more}"
        )
    notes = [r for r in report.rows if r.similarity is None]
    if notes:
        items = "".join(f"<li>{_e(r.chapter)} {_e(r.student_a)}: {_e(r.note)}</li>" for r in notes)
        parts.append(f"<p>Not compared:</p><ul>{items}</ul>")
    return "".join(parts)


def _e(text) -> str:
    return html.escape(str(text))


def write_report(
    out: Path, submissions: Iterable[Submission], sources: Mapping[str, Path], threshold: float | None = None
) -> str:
    """Writes `out/similarity.csv` for `submissions` (threshold None: `DEFAULT_THRESHOLD`) and
    returns the section of `summary.html`."""
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    try:
        report = class_report(submissions, sources, threshold)
    except Exception as error:  # the grades come first: a failed report is a note, never a lost batch
        report = Report(threshold, [Row("", "", "", note=f"the similarity report failed: {_one_line(error)}")])
    write_atomic(Path(out) / "similarity.csv", report_csv(report))
    return html_section(report)
