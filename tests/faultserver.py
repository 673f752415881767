"""The one fault-injection server: a WordPress-like site that misbehaves on cue.

It answers from a `DemoSite` (wpwatch/demo/server.py, which follows the
measured behaviour of the real WordPress) and, for requests matching a rule,
does what a real WordPress cannot be made to do on demand: hold the response
(a hung or very slow host), answer a chosen status/body, or drop the
connection mid-body. Rules are matched in order by a substring of the path.

    with FaultServer(site) as srv:
        gate = srv.hold("wp/v2/posts")      # every posts request hangs ...
        ...
        gate.set()                          # ... until released
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from wpwatch.demo.server import DemoSite


@dataclass
class Rule:
    match: str
    action: str  # "hold" | "status" | "wrap"
    count: int | None = None  # None: every matching request
    status: int = 503
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    prefix: bytes = b""
    suffix: bytes = b""
    hits: int = 0


class FaultServer:
    def __init__(self, site: DemoSite, host: str = "127.0.0.1") -> None:
        self.site = site
        self.rules: list[Rule] = []
        self.lock = threading.Lock()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._answer(self)

            def do_HEAD(self) -> None:  # noqa: N802
                server._answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        site.home = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for rule in self.rules:
            rule.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- scripting -------------------------------------------------------------------
    def hold(self, match: str, count: int | None = None) -> threading.Event:
        """Matching requests wait, sending nothing, until the returned event is set."""
        rule = Rule(match, "hold", count)
        self.rules.append(rule)
        return rule.gate

    def fail(self, match: str, status: int, body: bytes | str = b"", *, count: int | None = None,
             headers: list[tuple[str, str]] | None = None) -> Rule:
        rule = Rule(match, "status", count, status,
                    body.encode() if isinstance(body, str) else body, headers or [])
        self.rules.append(rule)
        return rule

    def wrap(self, match: str, *, prefix: bytes = b"", suffix: bytes = b"",
             count: int | None = None) -> Rule:
        """The site's real answer with bytes before/after it (PHP notices, cache comments)."""
        rule = Rule(match, "wrap", count, prefix=prefix, suffix=suffix)
        self.rules.append(rule)
        return rule

    def heal(self) -> None:
        """Forget every rule (and release held requests): the site is healthy again."""
        with self.lock:
            for rule in self.rules:
                rule.gate.set()
            self.rules.clear()

    # -- serving ---------------------------------------------------------------------
    def _rule_for(self, target: str) -> Rule | None:
        with self.lock:
            self.requests.append(target)
            for rule in self.rules:
                if rule.match in target and (rule.count is None or rule.hits < rule.count):
                    rule.hits += 1
                    return rule
        return None

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        rule = self._rule_for(h.path)
        if rule is not None and rule.action == "hold":
            rule.gate.wait()
            rule = None
        if rule is not None and rule.action == "status":
            self._send(h, rule.status, rule.headers, rule.body)
            return
        resp = self.site.handle(h.command, h.path, dict(h.headers.items()))
        body = resp.body
        if rule is not None and rule.action == "wrap":
            body = rule.prefix + body + rule.suffix
        self._send(h, resp.status, resp.headers, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]],
              body: bytes) -> None:
        try:
            h.send_response(status)
            for k, v in headers:
                if k.lower() not in ("content-length", "connection"):
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("Connection", "close")
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True


def served(site: DemoSite) -> Iterator[FaultServer]:
    with FaultServer(site) as srv:
        yield srv
