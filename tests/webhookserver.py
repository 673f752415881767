"""A real local HTTP server standing in for a Slack incoming webhook, as a pytest fixture.

It records every POST (path, headers, body) and answers like Slack: ``200 ok``, or
``400 invalid_blocks`` when the Block Kit payload breaks Slack's limits (checked by
:func:`block_kit_problems`). It can be told to answer something else, or to be down::

    webhook_server.answer(429, b"rate_limited", {"Retry-After": "30"})
    webhook_server.stop()    # connection refused
    webhook_server.start()   # back, same port

Use: list ``"tests.webhookserver"`` in ``pytest_plugins`` of conftest.py, or import the fixture.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import pytest

SECTION_TEXT, HEADER_TEXT, MAX_BLOCKS, CONTEXT_ELEMENTS = 3000, 150, 50, 10


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def block_kit_problems(payload: Any) -> list[str]:
    """What Slack would refuse in an incoming-webhook payload (the limits wpwatch relies on)."""
    if not isinstance(payload, dict):
        return ["payload is not an object"]
    problems = []
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("no text fallback")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        return [*problems, "no blocks"]
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or not 0 < len(text["text"]) <= HEADER_TEXT:
                problems.append(f"block {i}: header text {len(text['text'])} chars")
        elif kind == "section":
            text = block["text"]
            if text.get("type") not in ("mrkdwn", "plain_text"):
                problems.append(f"block {i}: bad text type")
            if not 0 < len(text["text"]) <= SECTION_TEXT:
                problems.append(f"block {i}: section text {len(text['text'])} chars")
        elif kind == "context":
            elements = block["elements"]
            if not 0 < len(elements) <= CONTEXT_ELEMENTS:
                problems.append(f"block {i}: {len(elements)} context elements")
            for e in elements:
                if not 0 < len(e["text"]) <= SECTION_TEXT:
                    problems.append(f"block {i}: context text {len(e['text'])} chars")
        elif kind != "divider":
            problems.append(f"block {i}: unexpected type {kind!r}")
    return problems


class WebhookServer:
    SECRET_PATH = "/services/T0WPWATCH/B0TEST/sEcReTtOkEn1234567890"

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.posts: list[Post] = []
        self._arrivals: queue.Queue[Post] = queue.Queue()
        self._answer: tuple[int, bytes, dict[str, str]] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.SECRET_PATH}"

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Answer every POST from now on with this (None: back to Slack's behaviour)."""
        self._answer = (status, body, headers or {})

    def normal(self) -> None:
        self._answer = None

    def _respond(self, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        if self._answer is not None:
            return self._answer
        try:
            problems = block_kit_problems(json.loads(body))
        except ValueError:
            return 400, b"invalid_payload", {}
        return (400, b"invalid_blocks", {}) if problems else (200, b"ok", {})

    def wait_post(self, timeout: float = 10) -> Post:
        return self._arrivals.get(timeout=timeout)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                post = Post(self.path, dict(self.headers.items()), body)
                server.posts.append(post)
                status, answer, headers = server._respond(body)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)
                server._arrivals.put(post)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            assert self._thread is not None
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server
