"""The website, built once per test session, in fast mode, from a copy of the book's sources.

`tests/test_book.py`, `tests/test_links.py` and `tests/test_site_browser.py` share it: each
imports the `site` fixture from here. A fixture imported into several modules is registered once
per module, so the build itself is memoised in this module: the first test that needs the site
builds it (about a minute), the others reuse it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
#: The files of the book's sources that the build reads, besides `book/`.
BOOK_FILES = ("_config.yml", "_toc.yml")

_built: dict[str, Path] = {}


def build_site(root: Path) -> Path:
    """Builds the public website into `root/_build/html` from a copy of the sources; returns it."""
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns("_generated*", "__pycache__"))
    for name in BOOK_FILES:
        shutil.copy(REPO / name, root / name)
    # An instructor edition's notebooks lying in the tree (`make book-instructor`) must stay out
    # of the public site: plant the source notebooks where that edition writes them.
    planted = root / "book" / "_generated_instructor" / "chapters"
    planted.mkdir(parents=True)
    for solution in sorted((REPO / "solutions").glob("*.ipynb")):
        shutil.copy(solution, planted / solution.name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "book",
            "--fast",
            "--jobs",
            "2",
            "--out",
            str(root / "book" / "_generated"),
        ],
        cwd=REPO,
        check=True,
    )
    result = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(root), "-W", "-n", "--keep-going"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return root / "_build" / "html"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built public website's `_build/html` folder (built on first use, once per session)."""
    if "public" not in _built:
        # VAELAB_BUILT_SITE=path/_build/html reuses a site already built (to iterate on the tests).
        reuse = os.environ.get("VAELAB_BUILT_SITE")
        _built["public"] = Path(reuse) if reuse else build_site(tmp_path_factory.mktemp("site"))
    return _built["public"]
