"""The website in a real browser: headless Chromium (Debian's `chromium`) driven over the Chrome
DevTools Protocol, on the fast-mode build served on localhost.

For each kind of page: a screenshot (`_build/screenshots/<page>.png`, a test artefact), the math
typeset by MathJax (no raw `$$` left), every image loaded and no error in the console. Then the
language tabs: choosing Português switches every tab-set on the page, and the choice holds on
another page and after a reload.

No network, as a reader offline or behind a firewall has none: every request outside localhost is
refused and reported, and a page that makes one fails. The site serves MathJax 3 itself (the
`sphinx-mathjax-offline` extension in `_config.yml` copies it into `_static/mathjax`), so the math
must typeset from the site's own files.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from site_build import REPO, site  # noqa: F401  (the session's site fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium): the browser tests need it"
)
websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (pip install -e '.[course]')")

SCREENSHOTS = REPO / "_build" / "screenshots"
PAGES = {
    "intro": "book/intro.html",
    "theory": "book/01_vae/theory.html",
    "notebook": "book/_generated/chapters/01_vae.html",
    "results": "book/results.html",
    "instructor": "book/instructor.html",
}
WIDTH = 1280
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WIDTH},900",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]
TIMEOUT = 30.0
MAX_SCREENSHOT_HEIGHT = 8000


class Page:
    """A small Chrome DevTools Protocol client for one browser tab."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True, max_size=None)
        self.next_id = 0
        self.events: list[dict] = []
        self.external: list[str] = []
        self.loaded = False
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Fetch.enable", patterns=[{"urlPattern": "*"}])

    def send(self, method: str, **params) -> int:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        return self.next_id

    def call(self, method: str, **params) -> dict:
        wanted = self.send(method, **params)
        while True:
            message = self.receive()
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def receive(self) -> dict:
        message = json.loads(self.ws.recv())
        method = message.get("method")
        if method == "Fetch.requestPaused":
            self.serve(message["params"])
        elif method == "Page.loadEventFired":
            self.loaded = True
        elif method in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled", "Log.entryAdded"):
            self.events.append(message)
        return message

    def serve(self, params: dict) -> None:
        """Lets localhost through; refuses, and records, every other request (no network)."""
        url, request_id = params["request"]["url"], params["requestId"]
        if url.startswith(("http://127.0.0.1", "http://localhost", "data:")):
            self.send("Fetch.continueRequest", requestId=request_id)
            return
        self.external.append(url)
        self.send("Fetch.failRequest", requestId=request_id, errorReason="InternetDisconnected")

    def wait_until_loaded(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not self.loaded:
            if time.monotonic() > deadline:
                raise TimeoutError("the page did not finish loading")
            self.receive()

    def open(self, url: str) -> None:
        """Navigates (or reloads, when `url` is None) and waits for the page, its math and fonts."""
        self.events.clear()
        self.external.clear()
        self.loaded = False
        if url is None:
            self.call("Page.reload", ignoreCache=True)
        else:
            self.call("Page.navigate", url=url)
        self.wait_until_loaded()
        self.evaluate("""(async () => {
            const typesets = document.querySelector('script[src*="mathjax"]') !== null;
            for (let i = 0; typesets && i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
                await new Promise(r => setTimeout(r, 50));
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
            await document.fonts.ready;
            await new Promise(r => setTimeout(r, 100));
            return true;
        })()""")

    def reload(self) -> None:
        self.open(None)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element that matches `selector`."""
        box = self.evaluate(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: "center"}});
            const r = el.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];
        }})()""")
        assert box, f"nothing matches {selector}"
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        self.evaluate("new Promise(r => setTimeout(() => r(true), 100))")

    def screenshot(self, path: Path) -> None:
        """The whole page (up to `MAX_SCREENSHOT_HEIGHT` pixels), through a viewport as tall as the
        page: Chromium's `captureBeyondViewport` shifts long pages sideways."""
        height = int(self.call("Page.getLayoutMetrics")["cssContentSize"]["height"])
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=min(height, MAX_SCREENSHOT_HEIGHT),
            deviceScaleFactor=1,
            mobile=False,
        )
        try:
            self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(() => r(true), 100)))")
            data = self.call("Page.captureScreenshot", format="png")["data"]
        finally:
            self.call("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def errors(self) -> list[str]:
        """The console's errors (uncaught exceptions, console.error, failed loads) since `open`."""
        found = []
        for event in self.events:
            params = event["params"]
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif event["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"{entry['text']} ({entry.get('url', '')})")
        return found

    def close(self) -> None:
        self.ws.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def base_url(site):  # noqa: F811
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page():
    profile = Path(tempfile.mkdtemp(prefix="vaelab-chromium-"))
    process = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start (exit code {process.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT) as response:
            targets = json.load(response)
        tab = Page(next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page"))
        yield tab
        tab.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def math_report(page: Page) -> dict:
    return page.evaluate("""(() => {
        const math = [...document.querySelectorAll('.math')];
        return {
            math: math.length,
            typeset: math.filter(el => el.querySelector('mjx-container')).length,
            containers: document.querySelectorAll('mjx-container').length,
            errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
            mathjax: [...document.querySelectorAll('script[src]')].map(s => s.src).filter(u => /mathjax/i.test(u)),
            version: (window.MathJax && MathJax.version) || '',
            text: proseText(),
        };
        function proseText() {  // the visible text outside code blocks
            const code = [...document.querySelectorAll('pre')];
            const display = code.map(el => el.style.display);
            code.forEach(el => { el.style.display = 'none'; });
            const text = document.body.innerText;
            code.forEach((el, i) => { el.style.display = display[i]; });
            return text;
        }
    })()""")


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_math_images_and_no_console_error(page, base_url, name):
    page.open(base_url + PAGES[name])
    page.screenshot(SCREENSHOTS / f"{name}.png")
    assert not page.external, f"the page requested resources outside the site: {page.external}"
    report = math_report(page)
    assert report["typeset"] == report["math"], f"{report['math'] - report['typeset']} formulas were not typeset"
    if name in ("theory", "notebook"):
        assert report["containers"] > 0, "a page with formulas shows no MathJax output"
        assert report["mathjax"] and all(src.startswith(base_url) for src in report["mathjax"]), (
            f"MathJax is not loaded from the site: {report['mathjax']}"
        )
        assert report["version"].startswith("3."), f"MathJax {report['version']} typeset the page"
    assert report["errors"] == 0, "MathJax reports errors in some formulas"
    for raw in ("$$", "\\[", "\\begin{"):
        assert raw not in report["text"], f"raw LaTeX ({raw!r}) is left in the visible text"
    tables = re.findall(r"[^\n]*\|\s*(?:[-:]{3,}|[—–])\s*\|[^\n]*", report["text"])
    assert not tables, f"a Markdown table shows as raw text: {tables[0][:200]}"
    broken = page.evaluate("""[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
                                                   .map(i => i.getAttribute('src'))""")
    assert not broken, f"images that did not load: {broken}"
    assert not page.errors(), f"console errors: {page.errors()}"


SELECTED = """(() => {
    const labels = [...document.querySelectorAll('.sd-tab-label[data-sync-group="lang"]')];
    const ids = labels.filter(l => document.getElementById(l.getAttribute('for')).checked)
                      .map(l => l.getAttribute('data-sync-id'));
    return {tabsets: new Set(labels.map(l => l.closest('.sd-tab-set'))).size, selected: ids};
})()"""


def assert_language(page: Page, language: str, where: str) -> None:
    state = page.evaluate(SELECTED)
    assert state["tabsets"] > 0, f"{where}: no tab-set"
    assert state["selected"] == [language] * state["tabsets"], f"{where}: selected tabs {state['selected']}"


def test_the_language_choice_switches_every_tab_set_and_persists(page, base_url):
    page.open(base_url + PAGES["theory"])
    page.evaluate("localStorage.clear(); sessionStorage.clear(); true")
    page.reload()
    assert_language(page, "en", "theory page, first visit")
    page.click('.sd-tab-label[data-sync-id="pt"]')
    assert_language(page, "pt", "theory page, after clicking Português")
    page.screenshot(SCREENSHOTS / "theory-pt.png")
    for name in ("notebook", "intro", "instructor"):
        page.open(base_url + PAGES[name])
        assert_language(page, "pt", f"{name} page, after choosing Português on another page")
    page.reload()
    assert_language(page, "pt", f"{name} page, after a reload")
    page.click('.sd-tab-label[data-sync-id="en"]')
    page.open(base_url + PAGES["theory"])
    assert_language(page, "en", "theory page, after choosing English again")
    assert not page.errors(), f"console errors: {page.errors()}"
