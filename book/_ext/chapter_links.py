"""Launch buttons of the chapter pages point at the students' notebooks, `chapters/NN.ipynb`.

The website renders `book/_generated/chapters/NN.ipynb` (written by `python -m autograder book`,
git-ignored), so sphinx-book-theme's Colab / Binder / JupyterHub links would name a path that does
not exist in the repository. This hook runs after the theme has built the header buttons and
rewrites those links to `chapters/NN.ipynb`, the committed student notebook that the rendered page
shows. The `.ipynb` download button is left alone: it serves the rendered notebook itself. The
instructor edition's chapter pages open `solutions/NN.ipynb`.
"""

from __future__ import annotations

from typing import Any

#: Docname prefix of the rendered chapters -> their notebooks' folder in the repository: the
#: students' notebooks for the public book, the source notebooks for the instructor edition
#: (`make book-instructor`).
FOLDERS = {
    "book/_generated/chapters/": "chapters/",
    "book/_generated_instructor/chapters/": "solutions/",
}


def _rewrite(buttons: list[dict[str, Any]], generated: str, repository: str) -> None:
    for button in buttons:
        url = button.get("url")
        if isinstance(url, str) and "://" in url and generated in url:
            button["url"] = url.replace(generated, repository)
        if isinstance(button.get("buttons"), list):
            _rewrite(button["buttons"], generated, repository)


def rewrite_launch_links(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    for generated, repository in FOLDERS.items():
        if pagename.startswith(generated) and isinstance(context.get("header_buttons"), list):
            _rewrite(context["header_buttons"], generated, repository)


def setup(app):
    # The theme adds its launch buttons at priority 501; run after it.
    app.connect("html-page-context", rewrite_launch_links, priority=510)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
