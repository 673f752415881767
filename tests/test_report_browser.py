"""The report of a hostile post is inert in a real headless Chromium.

The post's title, excerpt, content, link, slug and term names carry script tags, event
handlers, ``javascript:`` links, SVG, iframes, CSS loads, a meta refresh and mXSS tricks,
each of which would fetch a URL of a canary server on loopback if it ran. The report is
built from an archive through the real `wpwatch report` command, and every page is opened
in Debian's chromium, driven over the DevTools protocol (``--remote-debugging-pipe``, no
port). A page fails if any script is compiled, any request other than the page itself is
made, any Content-Security-Policy violation or console message is logged, or the canary
server is reached. Control pages prove the harness sees each of those when they happen.

Needs `chromium` (tests/browser/install.sh); skipped with that hint when it is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest
from click.testing import CliRunner

from archive import Archive, RawResponse, utcnow
from crawler.pipelines import to_record
from diffs.compare import changed_fields
from diffs.render import page
from tests.test_report_safety import benign_post, hostile_post
from wpwatch.cli import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed: run tests/browser/install.sh"
)
TIMEOUT = 30.0


# -- a canary server: any request to it is a failure of the report -------------------------------
class Canary:
    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"canary")

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def canary() -> Iterator[Canary]:
    with Canary() as server:
        yield server


# -- a minimal DevTools protocol client over a pipe ----------------------------------------------
class Browser:
    """Chromium with ``--remote-debugging-pipe``: commands on its fd 3, replies on its fd 4."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends out of the way (fd 10+), then let bash put them on 3 and 4.
        r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        os.close(to_child_r)
        os.close(from_child_w)
        args = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-extensions", "--mute-audio", "--remote-debugging-pipe",
            f"--user-data-dir={profile}", "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{r} 4>&{w} {r}<&- {w}>&-', binary, *args],
            pass_fds=(r, w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(r)
        os.close(w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for event in self.events:
            if predicate(event):
                return event
        return self._read_until(predicate)

    def _read_until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message: dict[str, Any] = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if predicate(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer within {TIMEOUT:.0f} s")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium exited (status {self.proc.poll()})")
            self._buffer += chunk

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM is not None
    chromium = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@dataclass
class Visit:
    url: str
    session: str
    browser: Browser
    requests: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def evaluate(self, expression: str) -> Any:
        result = self.browser.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session
        )
        return result["result"].get("value")


def visit(browser: Browser, url: str) -> Visit:
    """Open ``url`` in a fresh tab and wait until its network is idle; record what happened."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Network", "Page", "Runtime", "Debugger", "Log"):
        browser.send(f"{domain}.enable", {}, session)
    browser.send("Page.setLifecycleEventsEnabled", {"enabled": True}, session)
    start = len(browser.events)
    loader = browser.send("Page.navigate", {"url": url}, session)["loaderId"]

    def idle(event: dict[str, Any]) -> bool:
        p = event.get("params", {})
        return (
            event.get("sessionId") == session
            and event.get("method") == "Page.lifecycleEvent"
            and p.get("loaderId") == loader
            and p.get("name") == "networkIdle"
        )

    browser.wait_for(idle)
    seen = Visit(url, session, browser)
    for event in browser.events[start:]:
        if event.get("sessionId") != session:
            continue
        method, p = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent" and p["request"]["url"] != url:
            seen.requests.append(p["request"]["url"])
        elif method == "Debugger.scriptParsed" and p.get("url"):
            seen.scripts.append(p["url"])  # our own Runtime.evaluate calls have no url
        elif method == "Log.entryAdded":
            seen.logs.append(f"{p['entry']['level']}: {p['entry']['text']}")
        elif method in (
            "Runtime.consoleAPICalled",
            "Runtime.exceptionThrown",
            "Page.javascriptDialogOpening",
            "Page.frameRequestedNavigation",
        ):
            seen.logs.append(f"{method}: {json.dumps(p)[:300]}")
    return seen


DOM_CHECK = """(() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (['script','iframe','frame','object','embed','svg','math','img','video','audio','source',
         'link','base','form','template','noscript','canvas','picture'].includes(tag)) {
      bad.push(tag);
    }
    if (tag === 'meta' && el.httpEquiv && el.httpEquiv.toLowerCase() === 'refresh') {
      bad.push('refresh');
    }
    for (const a of el.attributes) {
      const v = a.value.trim().toLowerCase();
      if (a.name.startsWith('on') || a.name === 'style' || a.name === 'srcdoc') {
        bad.push(tag + '@' + a.name);
      }
      const allowed = /^(https?:|mailto:|#|\\.\\.\\/|changes\\/|index\\.html|feed\\.xml)/;
      if ((a.name === 'href' || a.name === 'src') && !allowed.test(v)) {
        bad.push(tag + '@' + a.name + '=' + v);
      }
    }
    el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    el.dispatchEvent(new FocusEvent('focus'));
  }
  return bad;
})()"""


def assert_inert(seen: Visit, canary: Canary) -> None:
    assert seen.evaluate(DOM_CHECK) == []
    assert seen.scripts == [], f"scripts ran on {seen.url}: {seen.scripts}"
    assert seen.requests == [], f"requests left {seen.url}: {seen.requests}"
    assert seen.logs == [], f"console/CSP messages on {seen.url}: {seen.logs}"
    assert canary.hits == [], f"the canary was reached from {seen.url}: {canary.hits}"


# -- the hostile report ---------------------------------------------------------------------------
def hostile_archive(db: Path, canary_url: str) -> None:
    """Baseline benign post 666; then it turns hostile (edited), hostile 667 appears (new),
    and 667 is deleted with a hostile error body."""
    archive = Archive(str(db))
    site = archive.site("https://x.org", "<script>alert('site')</script>")["id"]

    def fetch(posts: list[dict[str, Any]], baseline: bool) -> None:
        response = RawResponse(
            "https://x.org/wp-json/wp/v2/posts", 200, [], json.dumps(posts).encode(), utcnow()
        )
        archive.record_posts(
            site_id=site,
            round_id=None,
            type_="posts",
            response=response,
            records=[to_record(i, p) for i, p in enumerate(posts)],
            baseline=baseline,
            compare=changed_fields,
        )

    fetch([benign_post(666)], baseline=True)
    fetch([hostile_post(canary_url, wp_id=666), hostile_post(canary_url, wp_id=667)], False)
    body = json.dumps({"code": "<img src=x onerror=alert(1)>", "message": "<script>"}).encode()
    archive.record_gone(
        site_id=site,
        round_id=None,
        type_="posts",
        wp_id=667,
        kind="deleted",
        response=RawResponse(f"{canary_url}/wp-json/<script>", 404, [], body, utcnow()),
    )
    archive.close()


def test_hostile_report_is_inert(browser: Browser, canary: Canary, tmp_path: Path) -> None:
    db, out = tmp_path / "wpwatch.db", tmp_path / "report"
    hostile_archive(db, canary.url)
    result = CliRunner().invoke(
        cli, ["--db", str(db), "--config", os.devnull, "report", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    pages = [out / "index.html", *sorted((out / "changes").glob("*.html"))]
    assert len(pages) == 4  # index, edited, new, deleted
    for path in pages:
        seen = visit(browser, path.as_uri())
        assert_inert(seen, canary)
        text = seen.evaluate("document.body.innerText")
        assert "<script>" in text  # the hostile text is there, as text
    change = visit(browser, (out / "changes" / "2.html").as_uri())
    shown = change.evaluate("document.querySelector('.rendering').textContent")
    assert "Hover me" in shown and "[image: " + canary.url + "/img.png" in shown


def test_index_filters_work_without_script(
    browser: Browser, canary: Canary, tmp_path: Path
) -> None:
    db, out = tmp_path / "wpwatch.db", tmp_path / "report"
    hostile_archive(db, canary.url)
    CliRunner().invoke(cli, ["--db", str(db), "--config", os.devnull, "report", "--out", str(out)])
    seen = visit(browser, (out / "index.html").as_uri())
    visible = "[...document.querySelectorAll('.row')].filter(r => r.offsetParent !== null).length"
    assert seen.evaluate(visible) == 3
    seen.evaluate("document.querySelector('label[for=fk-deleted]').click()")
    assert seen.evaluate(visible) == 1
    seen.evaluate("document.querySelector('label[for=fk-all]').click()")
    assert seen.evaluate(visible) == 3
    assert_inert(seen, canary)


# -- the harness sees what it must see ------------------------------------------------------------
def test_harness_sees_scripts_and_requests(
    browser: Browser, canary: Canary, tmp_path: Path
) -> None:
    control = tmp_path / "control.html"
    control.write_text(
        f"<!doctype html><p>x</p><script>fetch('{canary.url}/control')</script>"
        f"<img src='{canary.url}/control.png'>",
        encoding="utf-8",
    )
    seen = visit(browser, control.as_uri())
    assert seen.scripts == [control.as_uri()]
    assert f"{canary.url}/control" in seen.requests and f"{canary.url}/control.png" in seen.requests
    assert sorted(canary.hits) == ["/control", "/control.png"]


def test_harness_sees_what_the_policy_blocks(
    browser: Browser, canary: Canary, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked.html"
    html = page("base.html.j2", title="control", index_href=None)
    blocked.write_text(
        html.replace("</main>", f"<script>fetch('{canary.url}/blocked')</script></main>"),
        encoding="utf-8",
    )
    seen = visit(browser, blocked.as_uri())
    assert seen.scripts == [] and seen.requests == [] and canary.hits == []
    assert any("Content Security Policy" in line for line in seen.logs), seen.logs
