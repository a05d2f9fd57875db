"""What students and instructors read: feedback pages, the class summary, the grade export.

- `summary_block(result)`: the top of a student's feedback page: status, score, a table with one
  row per exercise function (points, passed or the named mistake: the first line of the test's
  assertion message), the notes (renamed functions, edited tests, time and memory limits, the
  isolation used). `with_summary` puts it at the top of nbgrader's feedback HTML, which follows
  with every cell and its outputs (the student's figures, the full messages).
- `not_graded_page(result)`: the page for a file that could not be graded, saying why.
- `class_summary(results)`: `summary.html`: the score histogram (a PNG embedded as base64), the
  statuses, the failure rate per function and the most common named mistakes.
- `write_class_files(out, results)`: `grades.csv`, `scores_by_function.csv` and `summary.html`;
- `export(out)`: `python -m autograder export --out DIR`: `DIR/export.csv`, one row per student:
  `student`, then the score of each chapter, then `total` (see `export`'s docstring).

Every function takes `autograder.result.Result` objects.
"""

from __future__ import annotations

import base64
import collections
import csv
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomic
from .result import NOT_GRADED, Result, cells_csv, csv_text, grades_csv

STATUS_TEXT = {
    "graded": "every cell ran; the points of each exercise are below",
    "missing_cells": "graded, but cells were deleted (their tests score 0)",
    "timeout": "graded, but the notebook ran out of time (the cells that did not finish score 0)",
    "memory": "graded, but the notebook ran out of memory (the cells that failed score 0)",
    "crashed": "graded, but the kernel died (the cells after it were not run and score 0)",
    "invalid": "not graded: the file is not a gradable notebook of this chapter",
    "error": "not graded: the grader failed (your instructor has the log)",
}

STYLE = """<style>
.autograder-summary{font-family:system-ui,sans-serif;border:2px solid #444;border-radius:6px;
 padding:1em 1.5em;margin:1em 0 2em 0;background:#fafafa}
.autograder-summary table{border-collapse:collapse;margin:.5em 0}
.autograder-summary td,.autograder-summary th{border:1px solid #bbb;padding:.25em .6em;
 text-align:left;vertical-align:top}
.autograder-summary .passed{color:#1a7f37}.autograder-summary .failed{color:#b42318}
</style>"""


def _e(text) -> str:
    return html.escape(str(text))


@dataclass(frozen=True)
class FunctionRow:
    """One autograded test cell of a result, with the exercise function it tests and the
    named mistake (empty when it passed)."""

    function: str
    grade_id: str
    score: float
    max_score: float
    mistake: str

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


def function_rows(result: Result) -> list[FunctionRow]:
    """One row per autograded test cell (`grade_id` test_<function>...) of `result`."""
    answers = sorted(result.functions, key=len, reverse=True)
    rows = []
    for cell in result.cells:
        if cell.kind != "auto":
            continue
        name = cell.grade_id.removeprefix("test_")
        function = next((a for a in answers if name == a or name.startswith(a + "_")), name)
        rows.append(
            FunctionRow(
                function,
                cell.grade_id,
                cell.score or 0,
                cell.max_score,
                "" if cell.passed else result.mistakes.get(cell.grade_id, ""),
            )
        )
    return rows


def summary_block(result: Result) -> str:
    """The summary at the top of a student's feedback page (see the module docstring)."""
    rows = []
    for row in function_rows(result):
        verdict = (
            "<span class=passed>passed</span>"
            if row.passed
            else f"<span class=failed>{_e(row.mistake or 'failed')}</span>"
        )
        rows.append(
            f"<tr><td><code>{_e(row.function)}</code></td>"
            f"<td>{row.score:g} / {row.max_score:g}</td><td>{verdict}</td></tr>"
        )
    notes = "".join(f"<li>{_e(note)}</li>" for note in result.notes)
    manual = f" (+ {result.manual_max:g} points of written answers, graded by hand)" if result.manual_max else ""
    return (
        f"{STYLE}<div class=autograder-summary id=autograder-summary>"
        f"<h2>{_e(result.chapter)}: {result.score:g} / {result.max_score:g}"
        f"{_e(manual)}</h2>"
        f"<p>Status: <b>{_e(result.status)}</b>: "
        f"{_e(STATUS_TEXT.get(result.status, ''))}</p>"
        + (f"<table><tr><th>function</th><th>points</th><th>result</th></tr>{''.join(rows)}</table>" if rows else "")
        + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "")
        + "<p>Below: your notebook as the grader ran it, with every test's full message.</p>"
        "</div>"
    )


def with_summary(page: str, block: str) -> str:
    """nbgrader's feedback `page` with `block` right after its `<body>` tag."""
    match = re.search(r"<body[^>]*>", page)
    if not match:
        return block + page
    return page[: match.end()] + "\n" + block + "\n" + page[match.end() :]


def not_graded_page(result: Result) -> str:
    """The page of a file that was not graded, saying why."""
    title = _e(f"{result.student}/{result.chapter}")
    notes = "".join(f"<li>{_e(note)}</li>" for note in result.notes)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
        f"{STYLE}</head><body><div class=autograder-summary id=autograder-summary>"
        f"<h1>{title}: not graded ({_e(result.status)})</h1>"
        f"<p>{_e(STATUS_TEXT.get(result.status, ''))}.</p>"
        f"<p>{_e(result.message)}</p>" + (f"<ul>{notes}</ul>" if notes else "") + "</div></body></html>\n"
    )


#: The error names whose message is a named mistake (vaelab's CheckFailed is an AssertionError).
NAMED_MISTAKES = ("AssertionError", "CheckFailed")
#: How many of the most common named mistakes `summary.html` lists per chapter.
COMMON_MISTAKES = 15
#: A failure that is not a named mistake is counted by its error name, or by its first
#: characters when it has none.
OTHER_FAILURE_CHARS = 80


def histogram_png(scores: list[float], maximum: float) -> str:
    """A histogram of `scores` as a base64 PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.add_subplot()
    top = max(maximum, max(scores, default=0), 1)
    if top <= 40:  # one bar per point
        bins = [b - 0.5 for b in range(int(top) + 2)]
    else:
        bins = [top * i / 20 for i in range(21)]
    axes.hist(scores, bins=bins, color="#4a78b5", edgecolor="white")
    axes.set_xlabel(f"autograded score (out of {maximum:g})")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel("submissions")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def class_summary(results: list[Result]) -> str:
    """`summary.html` (see the module docstring)."""
    chapters = sorted({r.chapter for r in results if r.max_score})
    statuses = collections.Counter(r.status for r in results)
    sections = [
        f"<h1>Class summary</h1><p>{len(results)} submissions: "
        + ", ".join(f"{n} {_e(s)}" for s, n in sorted(statuses.items()))
        + "</p>"
    ]
    sections += [_chapter_section(chapter, [r for r in results if r.chapter == chapter]) for chapter in chapters]
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Class summary</title>'
        f"{STYLE.replace('.autograder-summary ', '')}</head><body>" + "".join(sections) + "</body></html>\n"
    )


def _failures(graded: list[Result]) -> tuple[dict, collections.Counter, collections.Counter]:
    """`({function: [failed, total]}, {(function, message): count} of the named mistakes,
    {error name: count} of the other failures)` over the graded results of one chapter."""
    failures: dict[str, list[int]] = {}
    mistakes: collections.Counter = collections.Counter()
    others: collections.Counter = collections.Counter()
    for result in graded:
        for row in function_rows(result):
            counts = failures.setdefault(row.function, [0, 0])
            counts[0] += not row.passed
            counts[1] += 1
            name, _, text = row.mistake.partition(": ")
            if not row.passed and name in NAMED_MISTAKES:
                mistakes[(row.function, text)] += 1
            elif not row.passed:
                others[name if re.fullmatch(r"\w+", name) else row.mistake[:OTHER_FAILURE_CHARS]] += 1
    return failures, mistakes, others


def _chapter_section(chapter: str, every: list[Result]) -> str:
    """One chapter's part of `summary.html`: `every` result of the chapter."""
    graded = [r for r in every if r.graded]
    maximum = max(r.max_score for r in every)
    scores = [r.score if r.graded else 0 for r in every]
    mean = sum(scores) / len(scores) if scores else 0
    failures, mistakes, others = _failures(graded)
    rate_rows = "".join(
        f"<tr><td><code>{_e(f)}</code></td><td>{n}/{t}</td><td>{100 * n / t:.0f} %</td></tr>"
        for f, (n, t) in sorted(failures.items(), key=lambda i: -i[1][0] / i[1][1])
    )
    mistake_rows = "".join(
        f"<tr><td>{count}</td><td><code>{_e(f)}</code></td><td>{_e(m)}</td></tr>"
        for (f, m), count in mistakes.most_common(COMMON_MISTAKES)
    )
    return (
        f"<h2>{_e(chapter)}</h2><p>{len(every)} submissions, {len(graded)} graded; "
        f"mean {mean:.2f} / {maximum:g}</p>"
        f'<img alt="score histogram of {_e(chapter)}" '
        f'src="data:image/png;base64,{histogram_png(scores, maximum)}">'
        "<h3>Failure rate per function</h3><table><tr><th>function</th><th>failed</th>"
        f"<th>rate</th></tr>{rate_rows}</table>"
        "<h3>Most common mistakes</h3><table><tr><th>count</th><th>function</th>"
        f"<th>assertion message (first line)</th></tr>{mistake_rows}</table>"
        + (f"<p>Other failures: {_e(', '.join(f'{n} × {k}' for k, n in others.most_common()))}</p>" if others else "")
    )


def write_class_files(out: Path, results: list[Result]) -> list[Path]:
    """Writes `grades.csv`, `scores_by_function.csv` and `summary.html` of `results` (in the
    order of the rows) into `out`; returns their paths."""
    files = {
        "grades.csv": grades_csv(results),
        "scores_by_function.csv": cells_csv(results),
        "summary.html": class_summary(results),
    }
    for name, text in files.items():
        write_atomic(Path(out) / name, text)
    return [Path(out) / name for name in files]


def export(out: Path, fmt: str = "csv") -> Path:
    """Writes `out/export.csv` from `out/grades.csv`: one row per student (sorted), columns
    `student`, one per chapter (its autograded score; 0 when the chapter was not submitted or
    could not be graded), `total`. Rows of files that are no chapter notebook are left out.
    Returns the path written."""
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}: expected csv")
    source = out / "grades.csv"
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: run `python -m autograder grade` first")
    with source.open(newline="", encoding="utf-8") as file:
        rows = [r for r in csv.DictReader(file) if float(r["max_score"] or 0) > 0 and r["student"]]
    chapters = sorted({r["chapter"] for r in rows})
    scores: dict[str, dict[str, float]] = {}
    for r in rows:
        graded = r["status"] not in NOT_GRADED
        scores.setdefault(r["student"], {})[r["chapter"]] = float(r["score"]) if graded else 0.0
    columns = ["student", *chapters, "total"]
    lines = []
    for student in sorted(scores):
        values = [scores[student].get(chapter, 0.0) for chapter in chapters]
        lines.append(dict(zip(columns, [student, *(f"{v:g}" for v in values), f"{sum(values):g}"], strict=True)))
    target = out / "export.csv"
    write_atomic(target, csv_text(columns, lines))
    return target
