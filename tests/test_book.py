"""The website builds (warnings are errors), in fast mode, from a copy of the book's sources.

The chapter pages are the solution notebooks executed and turned into the student view; the tests
check that the built pages show their outputs, that no line of the reference solutions is anywhere
in the public site (pages, page sources, downloads, notebooks), and that the chapter pages' launch
buttons open the students' notebooks in the repository named in `_config.yml`. The site is built
once per test session (`tests/site_build.py`).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import yaml
from site_build import REPO, site  # noqa: F401  (the session's site fixture)

from autograder import notebooks

#: Files of the built site that hold text (the rest are images and fonts).
TEXT_SUFFIXES = {".html", ".txt", ".ipynb", ".md", ".py", ".js", ".json", ".css", ".svg", ".xml", ".inv"}


def solution_lines(source) -> set[str]:
    """Lines of solution code and hidden tests long enough to be meaningful."""
    lines = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside and cell.cell_type == "code" and len(line.strip()) >= 16:
                lines.add(line.strip())
    return lines


def forbidden_lines() -> set[str]:
    """Solution lines that nothing public shows.

    The student notebooks (`chapters/`) and the book's own pages are public: a line that they show
    too (`with torch.no_grad():`, or `nelbo = rec + kl` quoted by an exercise's specification) is
    not a leak.
    """
    public = [p.read_text(encoding="utf-8") for p in sorted((REPO / "chapters").glob("*.ipynb"))]
    public += [
        p.read_text(encoding="utf-8") for p in sorted((REPO / "book").rglob("*.md")) if "_generated" not in p.parts
    ]
    public_text = "\n".join(public)
    lines = set()
    for solution in sorted((REPO / "solutions").glob("*.ipynb")):
        lines |= {
            line
            for line in solution_lines(notebooks.read(solution))
            if line not in public_text and json.dumps(line)[1:-1] not in public_text
        }
    return lines


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def readable_text(path: Path) -> str:
    """The text a reader could see in a built file: HTML without tags, JSON's strings decoded."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        return html.unescape(re.sub(r"<[^>]+>", "", text))
    if path.suffix in (".ipynb", ".json"):
        try:
            return "".join(strings(json.loads(text)))
        except ValueError:
            return text
    return text


def leaks(root: Path, lines: set[str]) -> dict[str, list[str]]:
    """{file: solution lines it contains} over every text file under `root`."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            text = readable_text(path)
            hits = [line for line in lines if line in text]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_the_book_builds_with_every_page(site):  # noqa: F811
    assert (site / "index.html").exists()
    for page in (
        "book/intro.html",
        "book/setup.html",
        "book/01_vae/theory.html",
        "book/_generated/chapters/01_vae.html",
        "book/instructor.html",
    ):
        assert (site / page).exists(), page


def test_chapter_pages_show_outputs_and_stubs(site):  # noqa: F811
    pages = sorted((site / "book" / "_generated" / "chapters").glob("*.html"))
    assert "01_vae.html" in [page.name for page in pages]
    for page in pages:
        text = readable_text(page)
        assert "raise NotImplementedError()" in text, page.name  # the exercises are shown as stubs
        assert "data:image/png" in page.read_text(encoding="utf-8") or list((site / "_images").glob("*.png"))


def test_no_solution_line_anywhere_in_the_public_site(site):  # noqa: F811
    lines = forbidden_lines()
    assert lines, "no solution line found in solutions/: the leak check checks nothing"
    scanned = [p for p in site.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    for part in ("_sources", "book"):
        assert any(part in p.relative_to(site).parts for p in scanned), f"nothing scanned under {part}/"
    assert any(p.suffix == ".ipynb" for p in scanned), "no notebook download was scanned"
    found = leaks(site, lines)
    assert not found, "solution lines in the public site: " + "; ".join(
        f"{name}: {hits[:2]}" for name, hits in list(found.items())[:5]
    )


def test_the_leak_check_sees_html_sources_and_notebooks(tmp_path):
    line = "return m + torch.sqrt(v) * torch.randn_like(m)"
    (tmp_path / "page.html").write_text(f"<pre><span>{html.escape(line)}</span></pre>")
    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "nb.ipynb").write_text(json.dumps({"cells": [{"source": ["x = 1\n", line + "\n"]}]}))
    (tmp_path / "clean.txt").write_text("nothing here")
    assert sorted(leaks(tmp_path, {line})) == ["_sources/nb.ipynb", "page.html"]


def test_launch_buttons_open_the_students_notebooks(site):  # noqa: F811
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    url, branch = config["repository"]["url"].rstrip("/"), config["repository"].get("branch", "main")
    owner_repo = url.split("github.com/")[1]
    page = (site / "book" / "_generated" / "chapters" / "01_vae.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"]+)"', page))
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/chapters/01_vae.ipynb"
    assert colab in links, [link for link in links if "colab" in link]
    assert (REPO / "chapters" / "01_vae.ipynb").exists()  # the notebook the button opens
    binder = [link for link in links if link.startswith("https://mybinder.org/")]
    assert binder == [f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/chapters/01_vae.ipynb"]
    assert not [link for link in links if "_generated" in link and "://" in link], "a launch link names a build path"
    assert "_sources/book/_generated/chapters/01_vae.ipynb" in " ".join(links)  # the .ipynb download


def test_the_instructor_edition_takes_the_same_toc_with_the_solution_notebooks():
    from autograder.book import INSTRUCTOR_TITLE, PUBLIC_CHAPTERS, write_instructor_book

    out = REPO / "_build" / "test-instructor-book"
    out.mkdir(parents=True, exist_ok=True)
    write_instructor_book(out)
    toc = (out / "_toc.yml").read_text(encoding="utf-8")
    public = (REPO / "_toc.yml").read_text(encoding="utf-8")
    assert PUBLIC_CHAPTERS not in toc
    assert toc.count("_build/test-instructor-book/chapters/01_vae") == 1
    assert len(toc.splitlines()) == len(public.splitlines()) + 1  # the same entries, plus a comment
    config = yaml.safe_load((out / "_config.yml").read_text(encoding="utf-8"))
    assert config["title"].endswith(INSTRUCTOR_TITLE)
    assert config["repository"] == yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))["repository"]
