"""Every bilingual block has both languages, and the two sides show the same equations.

A bilingual block is a sphinx-design tab-set in the ``lang`` sync group with one English tab
(``:sync: en``) and one Portuguese tab (``:sync: pt``). It appears in the book's pages and in the
notebooks' markdown cells. The display equations (``$$ ... $$``, numbered ones carrying
``\\tag{C.N}``) must be the same, in the same order, on both sides.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
TAB_SET = re.compile(r"^(?P<fence>:{4,})\{tab-set\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.S | re.M)
TAB_ITEM = re.compile(r"^(?P<fence>:{3})\{tab-item\}(?P<title>[^\n]*)\n(?P<body>.*?)^(?P=fence)\s*$", re.S | re.M)
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)


def sources() -> list[tuple[str, str]]:
    """(where, markdown text) for every book page and every notebook markdown cell."""
    found = [
        (str(p.relative_to(REPO)), p.read_text(encoding="utf-8"))
        for p in sorted((REPO / "book").rglob("*.md"))
        if "_generated" not in p.parts
    ]
    for nb_path in sorted((REPO / "solutions").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                found.append((f"{nb_path.relative_to(REPO)} cell {i}", cell.source))
    return found


def tab_sets(text: str):
    return [m.group("body") for m in TAB_SET.finditer(text)]


def parse(body: str) -> dict[str, str]:
    """{language: tab text} of a tab-set body; raises on a malformed block."""
    assert ":sync-group: lang" in body, "a bilingual tab-set needs ':sync-group: lang'"
    tabs = {}
    for item in TAB_ITEM.finditer(body):
        sync = re.search(r"^:sync:\s*(\w+)\s*$", item.group("body"), re.M)
        assert sync, f"tab '{item.group('title').strip()}' has no ':sync:' option"
        assert sync.group(1) not in tabs, f"two tabs with ':sync: {sync.group(1)}'"
        tabs[sync.group(1)] = item.group("body")
    return tabs


def equations(text: str) -> list[str]:
    return [" ".join(eq.split()) for eq in DISPLAY_MATH.findall(text)]


def prose(text: str) -> str:
    return " ".join(line for line in text.splitlines() if not line.startswith(":")).strip()


BLOCKS = [(where, i, body) for where, text in sources() for i, body in enumerate(tab_sets(text))]


def test_there_are_bilingual_blocks_in_every_page_and_notebook():
    where_with_blocks = {where.split(" cell ")[0] for where, _, _ in BLOCKS}
    pages = {str(p.relative_to(REPO)) for p in (REPO / "book").rglob("*.md") if "_generated" not in p.parts}
    notebooks = {str(p.relative_to(REPO)) for p in (REPO / "solutions").glob("*.ipynb")}
    assert pages | notebooks <= where_with_blocks | {"book/references.md"}


@pytest.mark.parametrize("where,index,body", BLOCKS, ids=[f"{w}#{i}" for w, i, _ in BLOCKS])
def test_block_has_both_languages_and_the_same_equations(where, index, body):
    tabs = parse(body)
    assert set(tabs) == {"en", "pt"}, f"{where}, block {index}: languages {sorted(tabs)}, expected en and pt"
    assert prose(tabs["en"]) and prose(tabs["pt"]), f"{where}, block {index}: an empty side"
    en, pt = equations(tabs["en"]), equations(tabs["pt"])
    assert en == pt, f"{where}, block {index}: the equations differ between English and Portuguese:\n{en}\n{pt}"


def test_a_missing_language_or_a_changed_equation_is_caught():
    one_sided = "::::{tab-set}\n:sync-group: lang\n\n:::{tab-item} English\n:sync: en\n\nText.\n:::\n::::\n"
    assert set(parse(tab_sets(one_sided)[0])) == {"en"}
    en = "$$\nx = 1 \\tag{1.1}\n$$"
    pt = "$$\nx = 2 \\tag{1.1}\n$$"
    assert equations(en) != equations(pt)


def test_numbered_equations_are_unique_per_page():
    for where, text in sources():
        tags: dict[str, int] = {}
        for tab_body in (parse(b).get("en", "") for b in tab_sets(text)):
            for tag in re.findall(r"\\tag\{([^}]*)\}", tab_body):
                tags[tag] = tags.get(tag, 0) + 1
        duplicated = [t for t, n in tags.items() if n > 1]
        assert not duplicated, f"{where}: equation numbers used twice: {duplicated}"
