"""The book's figures: every theory page shows some, every drawn file is shown, and the files are sound.

The figures are SVG files in `book/figures/`, drawn by `book/figures/make_figures.py` and committed.
A page shows one with a MyST ``{figure}`` directive whose path is relative to the page, once in each
language tab (the caption differs, the file is the same). Regenerating every figure takes longer
than a test should (`make_figures.py --check` does it and compares the file names); here the
script's list of files is compared with the folder instead.
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_bilingual import REPO, parse, tab_sets

BOOK = REPO / "book"
FIGURES = BOOK / "figures"
FIGURE = re.compile(r"^(?:`{3,}|:{3,})\{figure\}\s+(\S+)", re.MULTILINE)
SVG = "{http://www.w3.org/2000/svg}"


def pages(book: Path) -> list[Path]:
    return [p for p in sorted(book.rglob("*.md")) if not any(part.startswith("_generated") for part in p.parts)]


def figure_targets(page: Path, text: str | None = None) -> list[Path]:
    """The files that the {figure} directives of `page` point to, resolved relative to the page."""
    text = page.read_text(encoding="utf-8") if text is None else text
    return [(page.parent / target).resolve() for target in FIGURE.findall(text)]


def problems(book: Path) -> list[str]:
    """Missing files, theory pages without a figure, and SVGs in `book/figures` that no page shows."""
    found, shown = [], set()
    for page in pages(book):
        targets = figure_targets(page)
        shown.update(targets)
        found += [f"{page.relative_to(book)}: no file {t}" for t in targets if not t.is_file()]
        if page.name == "theory.md" and not any(t.is_file() for t in targets):
            found.append(f"{page.relative_to(book)}: a theory page without a figure")
    found += [
        f"figures/{svg.name} is shown on no page"
        for svg in sorted((book / "figures").glob("*.svg"))
        if svg.resolve() not in shown
    ]
    return found


def test_every_theory_page_shows_a_figure_and_every_figure_is_shown():
    assert len(list(BOOK.glob("0*/theory.md"))) >= 5
    assert not problems(BOOK), "\n".join(problems(BOOK))


def test_the_checker_finds_a_missing_figure_a_bare_page_and_an_unshown_file(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "01_a").mkdir()
    (tmp_path / "02_b").mkdir()
    (tmp_path / "figures" / "shown.svg").write_text("<svg/>")
    (tmp_path / "figures" / "orphan.svg").write_text("<svg/>")
    (tmp_path / "01_a" / "theory.md").write_text(
        "```{figure} ../figures/shown.svg\nA.\n```\n:::{figure} ../figures/gone.svg\nB.\n:::\n"
    )
    (tmp_path / "02_b" / "theory.md").write_text("No figure here.\n")
    found = problems(tmp_path)
    assert len(found) == 3, found
    assert "gone.svg" in found[0] and "02_b" in found[1] and "orphan.svg" in found[2]


@pytest.mark.parametrize("page", sorted(BOOK.glob("0*/theory.md")), ids=lambda p: p.parent.name)
def test_each_figure_is_shown_in_both_languages(page):
    """A tab-set that shows figures shows the same files in its English and its Portuguese tab."""
    for i, body in enumerate(tab_sets(page.read_text(encoding="utf-8"))):
        tabs = parse(body)
        en, pt = (sorted(FIGURE.findall(tabs.get(lang, ""))) for lang in ("en", "pt"))
        assert en == pt, f"{page.relative_to(REPO)}, block {i}: figures {en} in English but {pt} in Portuguese"


SVGS = sorted(FIGURES.glob("*.svg"))


@pytest.mark.parametrize("svg", SVGS, ids=[p.name for p in SVGS])
def test_svg_is_well_formed_dateless_and_on_white(svg):
    root = ET.parse(svg).getroot()  # raises on malformed XML
    assert root.tag == f"{SVG}svg", f"{svg.name}: the root element is {root.tag}, not <svg>"
    assert not svg.read_text(encoding="utf-8").count("<dc:date>"), f"{svg.name}: a date in the metadata"
    # matplotlib's first patch is the figure's background: white, so that the dark theme shows it.
    background = next((g for g in root.iter(f"{SVG}g") if g.get("id") == "patch_1"), None)
    assert background is not None, f"{svg.name}: no background patch"
    style = background.find(f"{SVG}path").get("style", "")
    assert re.search(r"fill:\s*#ffffff", style), f"{svg.name}: the background is not white ({style!r})"


def test_the_folder_holds_exactly_the_files_the_script_draws():
    spec = importlib.util.spec_from_file_location("make_figures", FIGURES / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # cheap: the heavy imports (torch, vaelab) happen inside the figures
    assert module.expected_files() == {p.name for p in SVGS}, "run book/figures/make_figures.py"
