"""The website builds (warnings are errors), in fast mode, from a copy of the book's sources.

The chapter pages are the solution notebooks executed and turned into the student view; the test
also checks that the built pages show their outputs and no line of the reference solutions.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import notebooks

REPO = Path(__file__).resolve().parent.parent
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


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


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_generated"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    subprocess.run([sys.executable, "-m", "autograder", "book", "--fast", "--out", str(root / "book" / "_generated")],
                   cwd=REPO, check=True)
    result = subprocess.run([str(JUPYTER_BOOK), "build", str(root), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return root / "_build" / "html"


def test_the_book_builds_with_every_page(site):
    assert (site / "index.html").exists()
    for page in ("book/intro.html", "book/setup.html", "book/01_vae/theory.html", "book/_generated/chapters/01_vae.html"):
        assert (site / page).exists(), page


def test_chapter_pages_show_outputs_but_no_solution(site):
    for solution in sorted((REPO / "solutions").glob("*.ipynb")):
        page = site / "book" / "_generated" / "chapters" / f"{solution.stem}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        assert "raise NotImplementedError()" in text  # the exercises are shown as stubs
        assert "data:image/png" in page.read_text(encoding="utf-8") or list((site / "_images").glob("*.png"))
        student = (REPO / "chapters" / solution.name).read_text(encoding="utf-8")
        # A leak is a solution line that the page shows but the student notebook does not
        # (instructions in the markdown may quote a line such as `m, v = model.encode(x)`).
        leaked = [line for line in solution_lines(notebooks.read(solution)) if line in text and line not in student]
        assert not leaked, f"{page.name} shows solution lines: {leaked[:3]}"
