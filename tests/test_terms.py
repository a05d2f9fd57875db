"""The Portuguese text uses the glossary's term for each concept, and decimal commas.

`book/glossary.md` gives, for each term, the Portuguese form that the course uses and, in its last
column, the variants to avoid ("prior" where the course says "priori", "o KL" where it says "a KL").
The Portuguese side of every bilingual block (the tab with ``:sync: pt``) of every book page and of
every markdown cell of the source notebooks, and the Portuguese half of every heading
(``## English · Português``), must use none of those variants. Italic spans (``*prior*``, the
English original given next to the Portuguese term), code and mathematics are not prose and are not
checked for terms; decimals are checked in the prose and in inline mathematics (``$0{,}5$``), not in
code or in display equations, which are shared by both languages.
"""

from __future__ import annotations

import re

import pytest
from test_bilingual import REPO, parse, sources, tab_sets

GLOSSARY = REPO / "book" / "glossary.md"

CODE_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<![\\$])\$(?!\$)")
ITALIC = re.compile(r"(?<![*\w])\*(?!\*)([^*\n]+?)(?<!\*)\*(?![*\w])")
LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+")
#: A number written with points: "0.5", "1.26", "60.000", "2.13.0".
DOTTED_NUMBER = re.compile(r"(?<![\w.,])\d+(?:\.\d+)+(?![\w])")
#: Thousands grouping with points, correct in Portuguese: "4.000", "60.000", "1.000.000".
THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")
#: Version numbers quoted in prose ("Python 3.10"): not decimals; nor are equation numbers, "(1.5)".
VERSION = re.compile(r"(?:Python|versão|version|torch|PyTorch|jupyter-book|nbgrader)\s+[<>=]*$", re.I)


def glossary_terms() -> list[tuple[str, list[str]]]:
    """(the course's Portuguese form, [variants to avoid]) for each glossary row that lists some."""
    terms = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 4 or set(cells[0]) <= {"-", " "} or cells[0] == "English":
            continue
        variants = [v.strip() for v in cells[3].split(",") if v.strip()]
        if variants:
            terms.append((cells[1], variants))
    return terms


def portuguese_parts(text: str) -> list[str]:
    """The Portuguese tabs of `text` and the Portuguese halves of its bilingual headings."""
    parts = [parse(body).get("pt", "") for body in tab_sets(text)]
    outside = re.sub(r"^(:{4,})\{tab-set\}.*?^\1\s*$", "", text, flags=re.S | re.M)
    parts += [line.rsplit(" · ", 1)[1] for line in outside.splitlines() if line.startswith("#") and " · " in line]
    return parts


def prose(text: str, keep_inline_math: bool = False) -> str:
    """`text` without code, display mathematics, directive options, comments and link targets; without inline
    mathematics too unless `keep_inline_math`."""
    for pattern in (CODE_BLOCK, DISPLAY_MATH, INLINE_CODE, LINK_TARGET):
        text = pattern.sub(" ", text)
    if not keep_inline_math:
        text = INLINE_MATH.sub(" ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.startswith((":", "%")))  # options, comments


def variant_pattern(variant: str) -> re.Pattern:
    """A glossary variant as a case-insensitive pattern: whole words, any white space between
    them, and a final `*` standing for any ending ("não enviesad*": -o, -a, -os, -as)."""
    stem = variant.rstrip("*")
    body = r"\s+".join(re.escape(word) for word in stem.split())
    ending = r"\w*" if variant.endswith("*") else ""
    return re.compile(r"(?<![\w-])" + body + ending + r"(?![\w-])", re.I)


def term_mistakes(text: str, terms: list[tuple[str, list[str]]]) -> list[str]:
    """'variant (use: form)' for every variant of `terms` in the Portuguese prose of `text`.
    Numbers between an article and its noun are ignored ("os 500 componentes")."""
    found = []
    for part in portuguese_parts(text):
        words = ITALIC.sub(" ", prose(part))
        words = " ".join(re.sub(r"(?<![\w.,])\d[\d.,]*(?![\w])", " ", words).split())
        seen = set()  # a variant listed under two entries is reported once
        for form, variants in terms:
            for variant in variants:
                for m in variant_pattern(variant).finditer(words):
                    if (m.start(), m.group(0)) not in seen:
                        seen.add((m.start(), m.group(0)))
                        found.append(f"{m.group(0)!r} (use: {form})")
    return found


def decimal_points(text: str) -> list[str]:
    """The numbers of the Portuguese prose and inline mathematics of `text` written with a decimal
    point ("0.5" where Portuguese writes "0,5"; "$0.1$" where it writes "$0{,}1$")."""
    found = []
    for part in portuguese_parts(text):
        words = prose(part, keep_inline_math=True)
        for match in DOTTED_NUMBER.finditer(words):
            equation = words[match.start() - 1 : match.start()] == "(" and words[match.end() : match.end() + 1] == ")"
            if equation or THOUSANDS.fullmatch(match.group(0)) or VERSION.search(words[: match.start()]):
                continue
            found.append(words[max(0, match.start() - 30) : match.end() + 10].replace("\n", " "))
    return found


TERMS = glossary_terms()
SOURCES = sources()


def test_the_glossary_lists_variants_for_the_drifting_terms():
    chosen = {form for form, _ in TERMS}
    for expected in (
        "priori",
        "não viesado",
        "ponderado por importância",
        "log-sum-exp",
        "limite",
        "a KL",
        "lista de exercícios",
        "as componentes",
    ):
        assert any(expected in form for form in chosen), f"the glossary has no variants listed for {expected!r}"


@pytest.mark.parametrize("where,text", SOURCES, ids=[w for w, _ in SOURCES])
def test_portuguese_uses_the_glossary_terms(where, text):
    mistakes = term_mistakes(text, TERMS)
    assert not mistakes, f"{where}: Portuguese text uses variants the glossary rules out: {mistakes}"


@pytest.mark.parametrize("where,text", SOURCES, ids=[w for w, _ in SOURCES])
def test_portuguese_prose_writes_decimal_commas(where, text):
    points = decimal_points(text)
    assert not points, f"{where}: decimal points in Portuguese prose (write 0,5 and $0{{,}}5$): {points}"


def block(en: str, pt: str) -> str:
    return (
        f"::::{{tab-set}}\n:sync-group: lang\n\n:::{{tab-item}} English\n:sync: en\n\n{en}\n:::\n\n"
        f":::{{tab-item}} Português\n:sync: pt\n\n{pt}\n:::\n::::\n"
    )


def test_the_checks_catch_variants_and_decimal_points_and_nothing_else():
    terms = [
        ("priori (*prior*)", ["prior", "priors"]),
        ("a KL", ["o KL", "do KL"]),
        ("não viesado", ["não enviesad*"]),
        ("as componentes", ["os componentes"]),
    ]
    bad = block(
        "The prior; beta = 0.5.",
        "A prior e o KL; estimativa não enviesada; os 500 componentes; β = 0.5, $\\beta = 0.25$.",
    )
    assert len(term_mistakes(bad, terms)) == 4
    assert len(decimal_points(bad)) == 2
    good = block(
        "The prior; 0.5.",
        "A priori (a *prior*), `model.prior()`, a KL, não viesada, as $K$ componentes; 60.000 imagens, "
        "β = 0,5, $0{,}25$, `lr=1e-3 0.5`, Python 3.10, (1.5).\n\n$$\nx = 0.5 \\tag{1.1}\n$$\n",
    )
    assert term_mistakes(good, terms) == [] and decimal_points(good) == []
    heading = "## The prior · A prior\n"
    assert term_mistakes(heading, terms) == ["'prior' (use: priori (*prior*))"]
