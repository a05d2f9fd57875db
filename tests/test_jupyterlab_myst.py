"""The notebooks read well in JupyterLab: jupyterlab-myst renders their MyST prose.

The notebooks' text is MyST: each bilingual block is a `::::{tab-set}` with an English and a
Português `tab-item`. Plain JupyterLab shows those lines raw, both languages one after the other;
with jupyterlab-myst (the `course` extra and environment.yml) they are tabs. Checked here:

* the extension is installed, enabled and compatible with the installed JupyterLab (an
  incompatible one, e.g. jupyterlab-myst 2.7.0 under JupyterLab 4.6, is listed but never loaded);
* pyproject.toml and environment.yml ask for the same version, the one installed;
* in a real JupyterLab (headless Chromium, the machinery of `test_site_browser.py`), a chapter
  notebook's first cell shows two tabs, English and Português, no raw directive, the English text,
  and the Portuguese text after a click on its tab.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
JUPYTER = Path(sys.executable).with_name("jupyter")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAW_MARKERS = ("::::{tab-set}", ":::{tab-item}", ":sync-group:", ":sync:")


def _pin(text: str) -> str:
    found = re.findall(r"jupyterlab-myst==([0-9][0-9.]*)", text)
    assert len(found) == 1, f"expected one jupyterlab-myst==X pin, found {found}"
    return found[0]


def test_one_pinned_version_everywhere_and_installed():
    in_pyproject = _pin((REPO / "pyproject.toml").read_text())
    assert _pin((REPO / "environment.yml").read_text()) == in_pyproject
    assert version("jupyterlab-myst") == in_pyproject, "the installed jupyterlab-myst is not the pinned one"


def test_jupyterlab_loads_the_extension():
    result = subprocess.run([str(JUPYTER), "labextension", "list"], capture_output=True, text=True, timeout=120)
    listing = ANSI.sub("", result.stdout + result.stderr)
    line = next((row for row in listing.splitlines() if row.strip().startswith("jupyterlab-myst ")), None)
    assert line is not None, f"jupyterlab-myst is not a JupyterLab extension here:\n{listing}"
    assert "enabled" in line.split() and "OK" in line.split(), f"not enabled, or incompatible:\n{listing}"
    assert "not compatible" not in listing, listing


# --- In a real JupyterLab -------------------------------------------------------------------

try:  # the headless Chromium tab of the website's browser tests (a module-scoped fixture)
    from test_site_browser import CHROMIUM, page  # noqa: F401
except (ImportError, pytest.skip.Exception):  # websocket-client missing: that module skips itself
    CHROMIUM = None

    @pytest.fixture(scope="module")
    def page():
        pytest.skip("websocket-client is not installed")


NOTEBOOK = REPO / "chapters" / "01_vae.ipynb"


def _languages(markdown: str) -> dict[str, str]:
    """The first words of each language's text in a bilingual cell: the independent truth."""
    words = {}
    for language in ("English", "Português"):
        body = markdown.split(f":::{{tab-item}} {language}", 1)[1].split(":::", 1)[0]
        prose = [row for row in body.splitlines() if row.strip() and not row.lstrip().startswith(":")]
        words[language] = " ".join(" ".join(prose).split()[:4])
    return words


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on localhost, no token, serving a copy of chapter 1; its base URL."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    shutil.copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "OMP_NUM_THREADS": "1",
    }
    command = [
        str(JUPYTER),
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        f"--LabApp.user_settings_dir={root / 'settings'}",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root / "server.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "lab", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


FIRST_TAB_SET = """(async () => {
    const cell = () => document.querySelector('.jp-MarkdownCell');
    for (let i = 0; i < 600 && !(cell() && cell().querySelector('.myst-tab-set')); i++)
        await new Promise(r => setTimeout(r, 100));
    const c = cell();
    if (!c) return null;
    const tabs = c.querySelector('.myst-tab-set');
    return {
        headers: tabs ? [...tabs.querySelectorAll('.myst-tab-item-header')].map(h => h.innerText.trim()) : [],
        active: tabs ? [...tabs.querySelectorAll('.myst-tab-item-header-active')].map(h => h.innerText.trim()) : [],
        text: c.querySelector('.jp-InputArea').innerText,
    };
})()"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_a_notebooks_language_tabs_render_as_tabs(page, lab):  # noqa: F811
    words = _languages(nbformat.read(NOTEBOOK, as_version=4).cells[0].source)
    page.open(lab + f"lab/tree/{NOTEBOOK.name}")
    cell = page.evaluate(FIRST_TAB_SET)
    assert cell is not None, "JupyterLab showed no Markdown cell"
    assert cell["headers"] == ["English", "Português"], f"no language tabs; the cell shows:\n{cell['text'][:600]}"
    for marker in RAW_MARKERS:
        assert marker not in cell["text"], f"the raw directive {marker!r} is shown"
    assert cell["active"] == ["English"]
    flat = " ".join(cell["text"].split())
    assert words["English"] in flat and words["Português"] not in flat, flat[:400]

    page.click(".jp-MarkdownCell .myst-tab-set .myst-tab-item-header-inactive")
    cell = page.evaluate(FIRST_TAB_SET)
    flat = " ".join(cell["text"].split())
    assert cell["active"] == ["Português"]
    assert words["Português"] in flat and words["English"] not in flat, flat[:400]
