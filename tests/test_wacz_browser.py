"""A WACZ package replays in ReplayWeb.page: a post's API URL shows its archived JSON.

ReplayWeb.page (the npm package `replaywebpage`, unpacked by tests/browser/install.sh)
is served with the package by a small static server on http://127.0.0.1 (a secure
context, so its service worker may register), its ``sw.js`` under ``/replay/`` (the
embed's ``replaybase`` and the worker's scope). A page embeds
``<replay-web-page source=… url=POST_API_URL>``; Debian's chromium, driven over the
DevTools protocol, opens it, and the test reads the text of the replayed frame.

Needs chromium and ReplayWeb.page: skipped with that hint when they are missing.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest

from tests.conftest import WPWatch
from tests.test_daemon import wait_until
from tests.test_export import read_warc
from tests.test_report_browser import CHROMIUM, Browser
from tests.test_wacz import pages_of, warc_member

RWP = Path(__file__).resolve().parent / "browser" / "replaywebpage"
MISSING = CHROMIUM is None or not (RWP / "ui.js").is_file() or not (RWP / "sw.js").is_file()
# scripts/test installs both (tests/browser/install.sh): there, missing is a failure
if MISSING and os.environ.get("WPWATCH_REQUIRE_WORDPRESS"):
    raise RuntimeError("chromium or ReplayWeb.page is missing: run tests/browser/install.sh")
pytestmark = pytest.mark.skipif(
    MISSING, reason="chromium or ReplayWeb.page is not installed: run tests/browser/install.sh"
)
REPLAY_TIMEOUT = 90.0
TYPES = {".js": "application/javascript", ".html": "text/html; charset=utf-8",
         ".wacz": "application/wacz+zip", ".json": "application/json"}


class StaticServer:
    """ReplayWeb.page's files, an embedding page and the package, on 127.0.0.1 with Range."""

    def __init__(self, package: Path) -> None:
        self.package = package
        self.page = b""
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, *, head: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                body, ctype = server.resolve(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                status, first, last = 200, 0, len(body) - 1
                wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
                if wanted and body:
                    if wanted.group(1):
                        first = int(wanted.group(1))
                        last = min(int(wanted.group(2) or last), last)
                    else:  # a suffix: the last N bytes
                        first = max(0, len(body) - int(wanted.group(2)))
                    status = 206
                part = body[first:last + 1]
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(body)}")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if not head:
                    self.wfile.write(part)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def resolve(self, path: str) -> tuple[bytes | None, str]:
        if path in ("/", "/index.html"):
            return self.page, TYPES[".html"]
        if path == "/evidence.wacz":
            return self.package.read_bytes(), TYPES[".wacz"]
        name = path.removeprefix("/replay/").lstrip("/")
        file = RWP / name
        if "/" in name or not file.is_file():
            return None, ""
        return file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream")

    def embed(self, url: str, ts: str = "") -> str:
        """The page that embeds the package, opened at `url` (at `ts`); returns its address."""
        self.page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>evidence</title>'
            '<script src="/ui.js"></script></head><body>'
            f'<replay-web-page source="/evidence.wacz" url="{html.escape(url)}" '
            f'ts="{html.escape(ts)}" replaybase="/replay/" embed="replayonly" '
            'style="display:block;height:600px"></replay-web-page></body></html>'
        ).encode()
        return f"{self.origin}/index.html"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM is not None
    chromium = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def frame_texts(browser: Browser, session: str) -> dict[str, str]:
    """The URL and text of every frame of the tab, shadow-DOM iframes included."""
    tree = browser.send("Page.getFrameTree", {}, session)["frameTree"]
    frames, stack = [], [tree]
    while stack:
        node = stack.pop()
        frames.append(node["frame"])
        stack += node.get("childFrames", [])
    out = {}
    for frame in frames:
        try:
            world = browser.send("Page.createIsolatedWorld",
                                 {"frameId": frame["id"], "worldName": "wacz-test"}, session)
            result = browser.send(
                "Runtime.evaluate",
                {"expression": "document.body ? document.body.innerText : ''",
                 "contextId": world["executionContextId"], "returnByValue": True},
                session,
            )
        except RuntimeError:  # a frame that navigated away meanwhile
            continue
        out[frame["url"]] = str(result["result"].get("value") or "")
    return out


def replay(browser: Browser, server: StaticServer, url: str, wp_id: int, ts: str = ""
           ) -> tuple[str, dict[str, Any]]:
    """Open the package at url (and ts) in a new tab; the replayed frame's URL and JSON."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
    try:
        browser.send("Page.enable", {}, session)
        browser.send("Page.navigate", {"url": server.embed(url, ts)}, session)

        def replayed() -> tuple[str, dict[str, Any]] | None:
            for frame_url, text in frame_texts(browser, session).items():
                if f'"id":{wp_id},' in text.replace(" ", "") and "/replay/w/" in frame_url:
                    return frame_url, json.loads(text)
            return None

        try:
            found: tuple[str, dict[str, Any]] = wait_until(
                "the replayed post", replayed, timeout=REPLAY_TIMEOUT)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; frames: {frame_texts(browser, session)}; requests: "
                                 f"{server.requests}") from None
        return found
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


def test_a_posts_api_url_replays_its_archived_json(
    copy: WPWatch, tmp_path: Path, browser: Browser
) -> None:
    package = tmp_path / "evidence.wacz"
    copy.run("export", "--out", str(package))
    _, pages = pages_of(package)
    post = next(p for p in pages if p["title"] == "Hidden edit 2")
    wp_id = int(post["url"].rsplit("/", 1)[1])
    captures = sorted(
        (r["headers"]["WARC-Date"], json.loads(r["payload"])["title"]["rendered"])
        for r in read_warc(warc_member(package, "-posts.warc.gz"))
        if r["headers"]["WARC-Target-URI"] == post["url"]
    )
    assert len(captures) >= 2 and captures[0][1] != "Hidden edit 2"

    with StaticServer(package) as server:
        frame_url, shown = replay(browser, server, post["url"], wp_id)
        assert "GET /evidence.wacz" in server.requests
        assert frame_url.endswith(post["url"])  # the replay of the post's own API URL
        assert shown["id"] == wp_id and shown["title"]["rendered"] == "Hidden edit 2"

        # the first archived version, asked for by its capture time
        first = re.sub(r"\D", "", captures[0][0])[:14]
        frame_url, shown = replay(browser, server, post["url"], wp_id, ts=first)
        assert f"/{first}" in frame_url
        assert shown["title"]["rendered"] == captures[0][1]
