"""Every internal link and resource of the built website exists, offline.

Each built HTML page is parsed; every `href` / `src` (and `srcset`) that is relative (no scheme, not
`//host`) must name an existing file of the site, and a `#fragment` must be an `id` (or an
`<a name>`) on the target page. External links are not checked: the tests run without network.
"""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from site_build import site  # noqa: F401  (the session's site fixture)

SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
LINK_ATTRIBUTES = {"href", "src", "poster", "data"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name in LINK_ATTRIBUTES and not (tag == "object" and name != "data"):
                self.links.append((tag, value.strip()))
            elif name == "srcset":
                self.links.extend((tag, part.split()[0]) for part in value.split(",") if part.strip())


@functools.cache
def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def pages(site: Path) -> list[Path]:  # noqa: F811
    """The site's pages (not the theme's Jinja templates that Sphinx copies into `_static/`)."""
    return [p for p in sorted(site.rglob("*.html")) if p.relative_to(site).parts[0] not in ("_static", "_sources")]


def broken_links(site: Path) -> list[str]:  # noqa: F811
    problems = []
    for html in pages(site):
        page = parse(html)
        for tag, url in page.links:
            if not url or SCHEME.match(url) or url.startswith("//"):
                continue
            parts = urlsplit(url)
            where = f"{html.relative_to(site)}: <{tag}> {url}"
            if parts.path:
                target = (html.parent / unquote(parts.path)).resolve()
                if parts.path.endswith("/") or target.is_dir():
                    target = target / "index.html"
                if not target.is_relative_to(site.resolve()):
                    problems.append(f"{where} (outside the site)")
                    continue
                if not target.is_file():
                    problems.append(f"{where} (no such file)")
                    continue
            else:
                target = html
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                problems.append(f"{where} (no id '{fragment}' on {target.name})")
    return problems


def test_every_internal_link_and_image_resolves(site):  # noqa: F811
    built = pages(site)
    assert len(built) >= 10, f"only {len(built)} pages were built"
    problems = broken_links(site)
    assert not problems, f"{len(problems)} broken internal links, for example:\n" + "\n".join(problems[:20])


def test_the_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text(
        '<p id="here"><a href="b.html#nowhere">b</a> <img src="img/x.png">'
        '<a href="#here">ok</a> <a href="https://example.org/">out</a></p>'
    )
    (tmp_path / "b.html").write_text('<h1 id="top">b</h1><a href="a.html#here">back</a>')
    problems = broken_links(tmp_path)
    assert len(problems) == 2, problems
    assert "no id 'nowhere'" in problems[0] and "img/x.png (no such file)" in problems[1]
