"""The one fault-injection server: a WordPress-like site that misbehaves on cue.

It answers from a `DemoSite` (wpwatch/demo/server.py, which follows the
measured behaviour of the real WordPress) and, for requests matching a rule,
does what a real WordPress cannot be made to do on demand. Rules are matched
in order, by a substring of the request target (path and query) or by a
compiled regular expression, each for every matching request or only the
first `count` ones:

* ``hold``: send nothing until released (a hung host; with a short
  DOWNLOAD_TIMEOUT, a read timeout);
* ``fail``: a chosen status, body and headers (5xx, 429 + Retry-After, a
  Cloudflare challenge, a closed REST API, a redirect, an oversized body);
* ``wrap`` / ``patch``: the site's real answer with bytes around it (PHP
  notices, cache comments), bytes replaced (invalid UTF-8, truncation) or
  headers replaced (an ``X-WP-Total`` that lies);
* ``reset``: the headers and half the body, then a TCP reset;
* ``close``: close the connection without answering;
* ``garbage``: bytes that are not HTTP at all;
* ``drip``: the real answer a few bytes at a time (a slow-drip host);
* ``gzip_bomb``: a small gzip body that inflates to many megabytes;
* ``redirect_loop``: a redirect to the very URL asked for;
* ``call``: run a function first (change the site while it is being paged).

``refuse()`` closes the listening socket (connection refused) and
``listen()`` opens it again on the same port.

    with FaultServer(site) as srv:
        gate = srv.hold("wp/v2/posts")      # every posts request hangs ...
        ...
        gate.set()                          # ... until released
"""

from __future__ import annotations

import gzip
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from wpwatch.demo.server import DemoSite

Match = str | re.Pattern[str]


@dataclass
class Rule:
    match: Match
    action: str
    count: int | None = None  # None: every matching request
    status: int = 503
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    prefix: bytes = b""
    suffix: bytes = b""
    replace: list[tuple[bytes, bytes]] = field(default_factory=list)
    set_headers: dict[str, str] = field(default_factory=dict)
    chunk: int = 64
    interval: float = 0.2
    call: Callable[[str], None] | None = None
    hits: int = 0

    def matches(self, target: str) -> bool:
        if isinstance(self.match, re.Pattern):
            return self.match.search(target) is not None
        return self.match in target


class FaultServer:
    def __init__(self, site: DemoSite, host: str = "127.0.0.1") -> None:
        self.site = site
        self.host = host
        self.rules: list[Rule] = []
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.port = 0
        self._bind()
        self.url = f"http://{host}:{self.port}"
        site.home = self.url

    def _bind(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._answer(self)

            def do_HEAD(self) -> None:
                server._answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.httpd = Server((self.host, self.port), Handler)
        self.port = self.httpd.server_address[1]

    def __enter__(self) -> FaultServer:
        self._serve()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        assert self.httpd is not None
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        for rule in self.rules:
            rule.gate.set()
        self._stop()

    def _stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def refuse(self) -> None:
        """Stop listening: connections are refused until `listen()`."""
        self._stop()

    def listen(self) -> None:
        """Listen again, on the same port."""
        if self.httpd is None:
            self._bind()
            self._serve()

    # -- scripting -------------------------------------------------------------------
    def _add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    def hold(self, match: Match, count: int | None = None) -> threading.Event:
        """Matching requests wait, sending nothing, until the returned event is set."""
        return self._add(Rule(match, "hold", count)).gate

    def fail(self, match: Match, status: int, body: bytes | str = b"", *, count: int | None = None,
             headers: list[tuple[str, str]] | None = None) -> Rule:
        return self._add(Rule(match, "status", count, status,
                              body.encode() if isinstance(body, str) else body, headers or []))

    def wrap(self, match: Match, *, prefix: bytes = b"", suffix: bytes = b"",
             count: int | None = None) -> Rule:
        """The site's real answer with bytes before/after it (PHP notices, cache comments)."""
        return self._add(Rule(match, "wrap", count, prefix=prefix, suffix=suffix))

    def patch(self, match: Match, *, replace: list[tuple[bytes, bytes]] | None = None,
              headers: dict[str, str] | None = None, truncate: int | None = None,
              count: int | None = None) -> Rule:
        """The site's real answer with bytes replaced, headers set, or cut after `truncate`."""
        rule = Rule(match, "wrap", count, replace=list(replace or []),
                    set_headers=dict(headers or {}))
        if truncate is not None:
            rule.chunk = -truncate  # a negative chunk: keep that many bytes
        return self._add(rule)

    def reset(self, match: Match, count: int | None = None) -> Rule:
        """Headers and half the body, then a TCP reset."""
        return self._add(Rule(match, "reset", count))

    def close_without_answer(self, match: Match, count: int | None = None) -> Rule:
        return self._add(Rule(match, "close", count))

    def garbage(self, match: Match, body: bytes = b"\x00\xff\xfe garbage \x01\x02\r\n\r\n",
                count: int | None = None) -> Rule:
        """Bytes that are not an HTTP response at all."""
        return self._add(Rule(match, "garbage", count, body=body))

    def drip(self, match: Match, *, chunk: int = 16, interval: float = 0.5,
             count: int | None = None) -> Rule:
        """The real answer `chunk` bytes at a time, one chunk every `interval` seconds."""
        return self._add(Rule(match, "drip", count, chunk=chunk, interval=interval))

    def gzip_bomb(self, match: Match, inflated: int = 64 * 1024 * 1024,
                  count: int | None = None) -> Rule:
        """200 with Content-Encoding: gzip, a small body that inflates to `inflated` bytes."""
        body = gzip.compress(b"[" + b" " * (inflated - 2) + b"]", 9)
        return self._add(Rule(match, "status", count, 200, body, [
            ("Content-Type", "application/json; charset=UTF-8"), ("Content-Encoding", "gzip")]))

    def redirect_loop(self, match: Match, status: int = 302, count: int | None = None) -> Rule:
        """A redirect to the very URL that was asked for."""
        return self._add(Rule(match, "loop", count, status))

    def call(self, match: Match, fn: Callable[[str], None], count: int | None = 1) -> Rule:
        """Run fn(target) before answering matching requests normally."""
        return self._add(Rule(match, "call", count, call=fn))

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
                if rule.matches(target) and (rule.count is None or rule.hits < rule.count):
                    rule.hits += 1
                    return rule
        return None

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        rule = self._rule_for(h.path)
        if rule is not None and rule.action == "call":
            assert rule.call is not None
            rule.call(h.path)
            rule = None
        if rule is not None and rule.action == "hold":
            rule.gate.wait()
            rule = None
        if rule is not None and rule.action == "status":
            self._send(h, rule.status, rule.headers, rule.body)
            return
        if rule is not None and rule.action == "loop":
            self._send(h, rule.status, [("Location", self.url + h.path)], b"")
            return
        if rule is not None and rule.action in ("close", "garbage"):
            try:
                if rule.action == "garbage":
                    h.wfile.write(rule.body)
                    h.wfile.flush()
            except OSError:
                pass
            _abort(h)
            return
        resp = self.site.handle(h.command, h.path, dict(h.headers.items()))
        body, headers = resp.body, list(resp.headers)
        if rule is not None and rule.action == "wrap":
            body = rule.prefix + body + rule.suffix
            for old, new in rule.replace:
                body = body.replace(old, new)
            if rule.chunk < 0:
                body = body[: -rule.chunk]
            low = {k.lower() for k in rule.set_headers}
            headers = [(k, v) for k, v in headers if k.lower() not in low]
            headers += list(rule.set_headers.items())
        if rule is not None and rule.action == "reset":
            self._send(h, resp.status, headers, body, cut=len(body) // 2)
            return
        if rule is not None and rule.action == "drip":
            self._send(h, resp.status, headers, body, drip=rule)
            return
        self._send(h, resp.status, headers, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]],
              body: bytes, *, cut: int | None = None, drip: Rule | None = None) -> None:
        try:
            h.send_response(status)
            for k, v in headers:
                if k.lower() not in ("content-length", "connection"):
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("Connection", "close")
            h.end_headers()
            if h.command == "HEAD":
                pass
            elif cut is not None:
                h.wfile.write(body[:cut])
                h.wfile.flush()
                _abort(h)
                return
            elif drip is not None:
                for start in range(0, len(body), drip.chunk):
                    h.wfile.write(body[start : start + drip.chunk])
                    h.wfile.flush()
                    if drip.gate.wait(drip.interval):  # healed: the rest at once
                        h.wfile.write(body[start + drip.chunk :])
                        break
            else:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True


def _abort(h: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP reset (SO_LINGER 0), not a clean FIN."""
    conn: socket.socket = h.connection  # type: ignore[assignment]
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    except OSError:
        pass
    h.close_connection = True


def served(site: DemoSite) -> Iterator[FaultServer]:
    with FaultServer(site) as srv:
        yield srv
