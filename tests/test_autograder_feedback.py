"""Feedback pages are true, readable and inert.

Inert: everything of the notebook that reaches the page (markdown, HTML and SVG outputs, error
and stream text) is sanitised, so that opening a student's page runs nothing of the student's.
The attacks are what a hostile student would write; the check is independent of the sanitiser:
no element or attribute that can run code or load something is left in the page's body.
True: one score line, nbgrader's own score texts agree with it, and the outputs of cells that are
not tests say that they come from the grader's fast re-run."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
import toy_class

from autograder import testing
from autograder.feedback import sanitize, score_line, with_summary
from autograder.result import CellScore, Result

#: Anything that runs or loads code in a browser: active elements, event attributes, script URLs.
ACTIVE = re.compile(
    r"<\s*(script|style|iframe|object|embed|form|svg|math|link|meta|base)\b"
    r"|<[^>]*\son\w+\s*=|<[^>]*\s(href|src|action)\s*=\s*[\"']?\s*(javascript|vbscript|data:text)"
    r"|<img[^>]*\ssrc\s*=\s*[\"']?\s*https?:",
    re.IGNORECASE,
)
PNG = "data:image/png;base64,iVBORw0KGgo="

ATTACKS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"><script>alert(4)</script></svg>',
    '<a href="javascript:alert(5)">click</a>',
    '<a href=" JaVaScRiPt:alert(6)">click</a>',
    '<iframe src="https://evil.example"></iframe><object data="x.swf"></object><embed src="x">',
    '<form action="https://evil.example"><input name=p><button>go</button></form>',
    "<style>body{display:none}</style>",
    '<div style="position:fixed;top:0">13 / 13</div>',
    '<img src="https://tracker.example/pixel.png">',
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(7)">',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_no_attack_survives_the_sanitiser(attack):
    cleaned = sanitize(f"<p>before</p>{attack}<p>after</p>")
    assert not ACTIVE.search(cleaned), cleaned
    assert "style=" not in cleaned and "<p>before</p>" in cleaned  # an unclosed <style> swallows the rest


def test_what_a_feedback_page_needs_stays():
    fragment = (
        f'<div class="output_png"><img src="{PNG}" alt="digits"></div>'
        '<table class="dataframe"><tr><th>nelbo</th><td>98.5</td></tr></table>'
        '<h2 id="results">Results<a class="anchor-link" href="#results">¶</a></h2>'
        '<a href="https://pytorch.org/docs">docs</a><pre>x &lt; y</pre>'
    )
    cleaned = sanitize(fragment)
    for text in (
        PNG,
        "<table",
        "<td>98.5</td>",
        'class="dataframe"',
        'href="#results"',
        "https://pytorch.org",
        "x &lt; y",
    ):
        assert text in cleaned


def test_lone_surrogates_become_replacement_characters():
    assert sanitize("<p>a\ud800b</p>").encode("utf-8") == "<p>a\ufffdb</p>".encode()


PAGE = """<!DOCTYPE html><html><head><title>00_toy</title><script src="mathjax.js"></script></head>
<body><div class="panel-heading"><h4>00_toy (Score: 5.0 / 6.0)</h4><ol>
<li><a href="#test_add">Test cell</a> (Score: 2.0 / 2.0)</li>
<li><a href="#question">Written response</a> (Score: 0.0 / 1.0)</li></ol></div>
<a name="question"></a><div class="panel-heading"><span class="nbgrader-label">Student's answer</span>
<span class="pull-right">
      Score: 0.0 / 1.0 <a href="#top">(Top)</a></span></div>
<div class="rendered_html">{student}</div></body></html>"""


def test_the_page_body_is_inert_and_its_scores_agree():
    page = with_summary(PAGE.replace("{student}", "".join(ATTACKS)), "<div id=autograder-summary>BLOCK</div>")
    head, body = page.split("<body>", 1)
    assert '<script src="mathjax.js"></script>' in head  # nbgrader's template, not the student's
    assert body.lstrip().startswith("<div id=autograder-summary>BLOCK</div>")
    assert not ACTIVE.search(body.replace("<div id=autograder-summary>BLOCK</div>", ""))
    assert "Score: 5.0 / 6.0" not in body and "<h4>00_toy</h4>" in body
    assert "(Score: 2.0 / 2.0)" in body  # a test cell's score is true as it is
    assert "Score: 0.0 / 1.0" not in body and body.count("1.0 points, graded by hand") == 2


def test_one_score_line():
    result = Result("ada", "01_vae", "graded", max_score=13, manual_max=9)
    result.cells = [CellScore("test_a", "auto", 13.0, 13.0), CellScore("q1", "manual", None, 9.0)]
    assert score_line(result) == "Autograded 13 / 13 · 9 points graded by hand, pending · total so far 13 / 22"
    alone = Result("bo", "03_iwae", "graded", max_score=10, cells=[CellScore("test_b", "auto", 4.0, 10.0)])
    assert score_line(alone) == "Autograded 4 / 10"


ADD = """from IPython.display import HTML, SVG, display

def add(a, b):
    return a + b

display(HTML('<img src=x onerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">j</a>'
             '<iframe src="https://e.example"></iframe><form action="https://e.example"></form><style>*{}</style>'))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(4)</script><circle r="5"/></svg>'))
print("<script>alert(5)</script>")"""
SQUARE = """def square(x):
    return x * x

raise ValueError('<img src=x onerror="alert(6)"> \\ud800')"""
MARKDOWN = "# Notes <script>alert(7)</script> [x](javascript:alert(8)) <img src=y onerror=alert(9)>"


def test_a_hostile_notebook_is_graded_and_its_page_is_inert(tmp_path):
    nb = testing.make_submission(
        testing.read_notebook(toy_class.TOY / f"{toy_class.CHAPTER}.ipynb"), {"add": ADD, "square": SQUARE}
    )
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(MARKDOWN))
    # A lone surrogate in the file itself makes it invalid (tests/test_autograder_hostile_inputs.py); the one
    # that square's cell raises at run time cannot even leave the kernel (its traceback does not serialise).
    testing.write_submissions(tmp_path / "in", {"mal": {toy_class.CHAPTER: json.dumps(nb)}})
    grades, _, _ = testing.run_grade(tmp_path / "in", tmp_path / "out", toy_class.TOY, timeout=60)
    row = grades["mal", toy_class.CHAPTER]
    assert (row["status"], row["score"], row["max_score"]) == ("graded", "5", "5"), row["message"]
    page = testing.feedback(tmp_path / "out", "mal", toy_class.CHAPTER)
    body = page.split("<body>", 1)[1]
    summary_end = body.index("</div>", body.index("autograder-summary"))
    assert not ACTIVE.search(body[summary_end:]), ACTIVE.search(body[summary_end:])
    assert "Autograded 5 / 5 · 1 point graded by hand, pending · total so far 5 / 6" in body
    assert "(Score: 5.0 / 6.0)" not in body
    assert "the grader's own run, in fast mode" in body  # the re-run of a cell that is not a test is labelled
    assert "data:image/svg+xml;base64," in body  # the figure stays, as an image that cannot run code
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in body  # printed text is shown as text


# ---------------------------------------------------------------------------------------------
# The feedback exporter: nbconvert's HTML page, less its BeautifulSoup pass


def _canonical(page: str) -> list[tuple]:
    """The sanitised body of `page` as its tags (attributes sorted) and texts (blanks collapsed, in
    attribute values too),
    read with the standard library's HTML parser: two pages that differ only in how they are
    serialised read the same."""
    from html.parser import HTMLParser

    found: list[tuple] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append(("<", tag, tuple(sorted((k, " ".join((v or "").split())) for k, v in attrs))))

        def handle_endtag(self, tag):
            found.append((">", tag))

        def handle_data(self, data):
            if data.strip():
                found.append(("text", " ".join(data.split())))

    Reader().feed(sanitize(page[page.index("<body") : page.index("</body>")]))
    return found


def test_the_feedback_exporter_shows_what_nbconverts_own_page_shows():
    from nbconvert.exporters import HTMLExporter
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from autograder.course import FeedbackExporter

    image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "# Title\n\n*Math* $x^2$, <img src='data:image/png;base64,AAAA'> and [a link](https://x.org)."
            ),
            new_code_cell(
                "print(1)\nx = [i for i in range(3)]",
                outputs=[
                    new_output("stream", name="stdout", text="1\n"),
                    new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"}),
                    new_output(
                        "display_data", data={"text/html": "<b>bold</b><img src='data:image/png;base64,AA' alt='own'>"}
                    ),
                    new_output(
                        "error", ename="ValueError", evalue="bad <x>", traceback=["\x1b[31mValueError\x1b[0m: bad"]
                    ),
                ],
            ),
        ]
    )
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    theirs = HTMLExporter(template_name="lab").from_notebook_node(nb)[0]
    ours = FeedbackExporter(template_name="lab").from_notebook_node(nb)[0]
    assert _canonical(ours) == _canonical(theirs)
    alts = [dict(tag[2]).get("alt") for tag in _canonical(ours) if tag[:2] == ("<", "img")]
    assert alts == ["No description has been provided for this image"] * 2 + ["own"]
    again = FeedbackExporter(template_name="lab").from_notebook_node(nb)[0]  # from the kept templates
    assert again == ours
