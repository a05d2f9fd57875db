"""Fixes for the themes' console errors, found by `tests/test_site_browser.py`.

- sphinx-thebe adds its inline configuration script (`const THEBE_JS_URL = ...`) twice to every
  page; the second copy throws "Identifier 'THEBE_JS_URL' has already been declared". Repeated
  inline scripts are dropped.
- pydata-sphinx-theme's page template reads a `default_mode` that nothing sets, and its script
  then logs "Got invalid theme mode: ." on every first visit. It is set to `auto` (follow the
  reader's system), which the theme's own selector also uses.
"""

from __future__ import annotations


def fix_page(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    context.setdefault("default_mode", "auto")
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        seen, kept = set(), []
        for script in scripts:
            body = getattr(script, "attributes", {}).get("body") if not isinstance(script, str) else None
            if body:
                if body in seen:
                    continue
                seen.add(body)
            kept.append(script)
        scripts[:] = kept


def setup(app):
    app.connect("html-page-context", fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
