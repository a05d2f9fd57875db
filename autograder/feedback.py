"""What students and instructors read: feedback pages, the class summary, the grade export.

- `summary_block(result)`: the top of a student's feedback page: status, score, a table with one
  row per exercise function (points, passed or the named mistake: the first line of the test's
  assertion message), the notes (renamed functions, edited tests, time and memory limits, the
  isolation used). `with_summary` puts it at the top of nbgrader's feedback HTML, which follows
  with every cell and its outputs (the full messages), after making that page inert and true:
  everything in its body (the student's markdown, HTML, SVG, error and stream outputs) goes
  through `nh3` (no script, style, event attribute, frame, form or remote image; data: images
  stay), nbgrader's own score texts agree with the summary's single score line, and its tables
  get borders.
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

import nh3

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
.autograder-summary .score-line{font-size:1.2em}
div.rendered_html table,div.output_html table{border-collapse:collapse!important;margin:.5em 0}
div.rendered_html th,div.rendered_html td,div.output_html th,div.output_html td{border:1px solid #bbb!important;
 padding:.25em .6em!important;text-align:right}
.autograder-origin{font:italic .85em system-ui,sans-serif;color:#555;border-left:3px solid #999;padding:0 .5em}
</style>"""

#: What may stay of the page's body: nbconvert's structure and ordinary formatting, no active content.
SAFE_TAGS = {
    *"a abbr b blockquote br caption code col colgroup dd del details div dl dt em figcaption figure h1 h2 h3".split(),
    *"h4 h5 h6 hr i img ins kbd li main mark ol p pre q s samp small span strong sub summary sup table".split(),
    *"tbody td tfoot th thead tr u ul var".split(),
}
SAFE_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
}
#: Images only as data: URIs (a remote image would tell a third party who opened the page).
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE)
SAFE_LINK = re.compile(r"(https?://|mailto:|#)", re.IGNORECASE)
SURROGATE = re.compile("[\ud800-\udfff]")
#: nbgrader's score texts (its feedback template): the page's title, and the cells graded by hand,
#: whose score is not known yet (nbgrader prints 0).
NBGRADER_TITLE_SCORE = re.compile(r"(<h4>[^<]*?) \(Score: [\d.]+ / [\d.]+\)(</h4>)")
NBGRADER_MANUAL_TOC = re.compile(
    r"(<a href=\"#[^\"]*\">(?:Written response|Coding free-response|Task)</a>) \(Score: [\d.]+ / ([\d.]+)\)"
)
NBGRADER_MANUAL_CELL = re.compile(
    r"(Student's (?:answer|task)</span>\s*<span class=\"pull-right\">)\s*Score: [\d.]+ / ([\d.]+)"
)


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


def score_line(result: Result) -> str:
    """The one score of the page: "Autograded 13 / 13 · 9 points graded by hand, pending · total
    so far 13 / 22" (the written answers are graded after the autograder ran, if ever)."""
    manual = [c for c in result.cells if c.kind == "manual"]
    pending = sum(c.max_score for c in manual if c.score is None) if manual else result.manual_max
    marked = sum(c.score for c in manual if c.score is not None)
    parts = [f"Autograded {result.score:g} / {result.max_score:g}"]
    if marked:
        parts.append(f"graded by hand {marked:g} / {result.manual_max - pending:g}")
    if pending:
        parts.append(f"{pending:g} point{'' if pending == 1 else 's'} graded by hand, pending")
    if result.manual_max:
        parts.append(f"total so far {result.score + marked:g} / {result.max_score + result.manual_max:g}")
    return " · ".join(parts)


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
    return (
        f"{STYLE}<div class=autograder-summary id=autograder-summary>"
        f"<h2>{_e(result.chapter)}</h2><p class=score-line><b>{_e(score_line(result))}</b></p>"
        f"<p>Status: <b>{_e(result.status)}</b>: "
        f"{_e(STATUS_TEXT.get(result.status, ''))}</p>"
        + (f"<table><tr><th>function</th><th>points</th><th>result</th></tr>{''.join(rows)}</table>" if rows else "")
        + (f"<p>Notes:</p><ul>{notes}</ul>" if notes else "")
        + "<p>Below: your notebook with every test's full message. The grader ran it again in fast mode, with "
        "far fewer training steps than your own run: each output is labelled with the run it comes from.</p>"
        "</div>"
    )


def _safe_attribute(tag: str, attribute: str, value: str) -> str | None:
    """`value` when it is a safe value of `attribute`: images only from data: URIs, links only to
    web pages, mail addresses and anchors of the page."""
    if tag == "img" and attribute == "src":
        return value if DATA_IMAGE.fullmatch(value.strip()) else None
    if attribute == "href":
        return value if SAFE_LINK.match(value.strip()) else None
    return value


def sanitize(fragment: str) -> str:
    """`fragment` with nothing active left: only `SAFE_TAGS` and `SAFE_ATTRIBUTES` stay (script
    and style elements lose their text too), lone surrogates become U+FFFD."""
    return nh3.clean(
        SURROGATE.sub("\ufffd", fragment),
        tags=SAFE_TAGS,
        clean_content_tags={"script", "style", "template", "noscript", "textarea", "select", "noembed", "xmp"},
        attributes=SAFE_ATTRIBUTES,
        attribute_filter=_safe_attribute,
        url_schemes={"http", "https", "mailto", "data"},
    )


def true_scores(body: str) -> str:
    """nbgrader's page body without the scores that disagree with the summary: its title's total
    (written answers counted as 0) and the 0 it shows for a written answer not yet graded."""
    body = NBGRADER_TITLE_SCORE.sub(r"\1\2", body, count=1)
    body = NBGRADER_MANUAL_TOC.sub(r"\1 (\2 points, graded by hand)", body)
    return NBGRADER_MANUAL_CELL.sub(r"\1 \2 points, graded by hand", body)


def with_summary(page: str, block: str) -> str:
    """nbgrader's feedback `page` with `block` right after its `<body>` tag; everything in the
    body (what comes from the notebook) is sanitised (`sanitize`), and nbgrader's scores agree with
    the block's (`true_scores`). The head is nbgrader's template (styles, MathJax), not the notebook's."""
    match = re.search(r"<body[^>]*>", page)
    head, body = (page[: match.start()], page[match.end() :]) if match else ("<!DOCTYPE html>\n<html>", page)
    body = body.rsplit("</body>", 1)[0]
    head = SURROGATE.sub("\ufffd", head)
    return f"{head}<body>\n{block}\n{sanitize(true_scores(body))}\n</body>\n</html>\n"


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


def class_summary(results: list[Result], more: tuple[str, ...] = ()) -> str:
    """`summary.html` (see the module docstring); `more`: HTML sections after the chapters' (the
    similarity report of `autograder.similarity`)."""
    chapters = sorted({r.chapter for r in results if r.max_score})
    statuses = collections.Counter(r.status for r in results)
    sections = [
        f"<h1>Class summary</h1><p>{len(results)} submissions: "
        + ", ".join(f"{n} {_e(s)}" for s, n in sorted(statuses.items()))
        + "</p>"
    ]
    sections += [_chapter_section(chapter, [r for r in results if r.chapter == chapter]) for chapter in chapters]
    sections += more
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


def write_class_files(out: Path, results: list[Result], sections: tuple[str, ...] = ()) -> list[Path]:
    """Writes `grades.csv`, `scores_by_function.csv` and `summary.html` of `results` (in the
    order of the rows; `sections`: `class_summary`'s `more`) into `out`; returns their paths."""
    files = {
        "grades.csv": grades_csv(results),
        "scores_by_function.csv": cells_csv(results),
        "summary.html": class_summary(results, sections),
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
