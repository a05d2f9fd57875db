"""The website serves MathJax itself: a reader offline, or on a network that blocks the CDN, still
sees typeset formulas. A static check of the built pages (no browser needed);
`test_site_browser.py` checks in Chromium, without network, that the math typesets."""

from __future__ import annotations

import re

from site_build import site  # noqa: F401  (the session's site fixture)

SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)
REMOTE = re.compile(r"^(?:[a-z]+:)?//", re.IGNORECASE)


def test_pages_load_mathjax_from_the_site(site):  # noqa: F811
    pages = sorted(site.rglob("*.html"))
    loading = {}
    for page in pages:
        for src in SCRIPT.findall(page.read_text(encoding="utf-8")):
            if "mathjax" in src.lower():
                loading.setdefault(page, []).append(src)
    assert loading, "no page loads MathJax: the theory pages' formulas would stay raw LaTeX"
    assert site / "book" / "01_vae" / "theory.html" in loading
    for page, sources in loading.items():
        for src in sources:
            where = page.relative_to(site)
            assert not REMOTE.match(src), f"{where} loads MathJax from outside the site: {src}"
            target = (page.parent / src.split("?")[0]).resolve()
            assert target.is_file() and target.is_relative_to(site.resolve()), f"{where}: {src} is not in the site"


def test_the_site_holds_mathjax_and_its_fonts(site):  # noqa: F811
    mathjax = site / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").is_file()
    # The CommonHTML output loads its web fonts from beside the script, when it first typesets.
    fonts = list((mathjax / "output" / "chtml" / "fonts").rglob("*.woff")) if mathjax.is_dir() else []
    assert fonts, "MathJax's fonts are missing: formulas would render with the wrong glyphs"


def test_no_page_loads_a_script_from_a_cdn(site):  # noqa: F811
    remote = {}
    for page in sorted(site.rglob("*.html")):
        found = [src for src in SCRIPT.findall(page.read_text(encoding="utf-8")) if REMOTE.match(src)]
        if found:
            remote[str(page.relative_to(site))] = found
    assert not remote, f"scripts loaded from outside the site: {remote}"
