"""HTTP serving: :class:`DemoServer` puts demo sites on listeners run by background threads.

Several sites can share one ``host:port`` under path prefixes (subdirectory
installs such as ``/en``) or each get its own address (``127.0.0.2:PORT``).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from wpwatch.demo.php import (
    php_json,
)
from wpwatch.demo.response import Response
from wpwatch.demo.site import DemoSite

logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wpwatch-demo"
    sys_version = ""
    timeout = 60
    server: _Listener

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)

    def _handle(self) -> None:
        length = self.headers.get("Content-Length")
        if length:
            with contextlib.suppress(ValueError):
                self.rfile.read(int(length))
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        site, rel = self.server.route(target)
        try:
            if site is None:
                resp = self.server.root_response(self.command, rel)
            else:
                resp = site.handle(self.command, rel, self.headers)
        except Exception:  # one bad request must not kill the server
            logger.exception("demo server failed on %s %s", self.command, target)
            resp = Response(
                500,
                [("Content-Type", "application/json; charset=UTF-8")],
                php_json(
                    {
                        "code": "internal_server_error",
                        "message": "There has been a critical error on this website.",
                        "data": {"status": 500},
                    }
                ),
            )
        data = self._encode(resp)
        # Counted before sending: a client that reads the counters right after its
        # response arrives must see that response counted.
        if site is not None:
            site._count(self.command, target, resp.status, len(data), len(resp.body))
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _encode(self, resp: Response) -> bytes:
        reason = self.responses.get(resp.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {resp.status} {reason}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
        ]
        lines.extend(f"{k}: {v}" for k, v in resp.headers)
        if self.command != "HEAD" or resp.body:
            lines.append(f"Content-Length: {len(resp.body)}")
        client_close = (
            self.headers.get("Connection", "").lower() == "close"
            or self.request_version == "HTTP/1.0"
        )
        if not self.server.keep_alive or client_close:
            lines.append("Connection: close")
            self.close_connection = True
        else:
            self.close_connection = False
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + (resp.body if self.command != "HEAD" else b"")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Listener(ThreadingHTTPServer):
    """One listening socket with the sites mounted on it (longest prefix wins)."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], keep_alive: bool):
        super().__init__(address, _Handler)
        self.keep_alive = keep_alive
        self.mounts: list[tuple[str, DemoSite]] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()

    def serve(self) -> None:
        """Like ``serve_forever`` but woken by :meth:`stop` instead of polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stopping:
                        # socketserver's own one-request step (what serve_forever calls)
                        self._handle_request_noblock()  # type: ignore[attr-defined]

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.server_close()
        self._wake_r.close()
        self._wake_w.close()
        self.drop_connections()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def drop_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def base(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def mount(self, prefix: str, site: DemoSite) -> None:
        if any(p == prefix for p, _ in self.mounts):
            raise ValueError(f"a site is already mounted at {prefix or '/'!r} on {self.base}")
        self.mounts.append((prefix, site))
        self.mounts.sort(key=lambda m: len(m[0]), reverse=True)

    def route(self, target: str) -> tuple[DemoSite | None, str]:
        path = target.split("?", 1)[0]
        decoded = unquote(path)
        for prefix, site in self.mounts:
            if not prefix:
                if path == "/robots.txt" and len(self.mounts) > 1:
                    break
                return site, target
            if decoded == prefix or decoded.startswith(prefix + "/"):
                rest = target[len(prefix) :] if path.startswith(prefix) else target
                return site, rest if rest.startswith("/") else "/" + rest
        return None, target

    def root_response(self, method: str, target: str) -> Response:
        path = target.split("?", 1)[0]
        if path == "/robots.txt":
            sites = [s for _, s in self.mounts]
            if len(sites) == 1:
                body = sites[0].robots()
            else:
                lines = ["User-agent: *"]
                for prefix, _site in sorted(self.mounts):
                    lines.append(f"Disallow: {prefix}/wp-admin/")
                    lines.append(f"Allow: {prefix}/wp-admin/admin-ajax.php")
                lines.append("")
                lines.extend(
                    f"Sitemap: {s.home}/wp-sitemap.xml"
                    for _, s in sorted(self.mounts, key=lambda m: m[0])
                )
                body = "\n".join(lines) + "\n"
            return Response(
                200,
                [("Content-Type", "text/plain; charset=utf-8")],
                b"" if method == "HEAD" else body.encode(),
            )
        return Response(
            404,
            [("Content-Type", "text/html; charset=UTF-8")],
            b""
            if method == "HEAD"
            else b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>\n",
        )


class DemoServer:
    """Serve :class:`DemoSite` objects over HTTP from background threads.

    ``DemoServer(site)`` binds ``127.0.0.1`` on a free port; more sites go on the
    same listener under a path prefix (``add_site(en, prefix="/en")``, a
    subdirectory install) or on their own address (``add_site(b, host="127.0.0.2")``).
    Sockets are bound when a site is added, so ``url`` is known before
    :meth:`start`.  Use as a context manager or call :meth:`close`.

    ``keep_alive=False`` answers ``Connection: close`` like ``php -S``.
    """

    def __init__(
        self,
        site: DemoSite | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        keep_alive: bool = True,
    ):
        self.host = host
        self.keep_alive = keep_alive
        self._listeners: list[_Listener] = []
        self._default: _Listener | None = None
        self._default_addr = (host, port)
        self._sites: list[tuple[DemoSite, _Listener]] = []
        self._started = False
        self._lock = threading.Lock()
        if site is not None:
            self.add_site(site, prefix=prefix)

    def _listen(self, host: str, port: int) -> _Listener:
        listener = _Listener((host, port), self.keep_alive)
        self._listeners.append(listener)
        if self._started:
            self._run(listener)
        return listener

    def add_site(
        self, site: DemoSite, *, prefix: str = "", host: str | None = None, port: int | None = None
    ) -> str:
        """Mount ``site`` and return its URL (with trailing slash).

        Without ``host``/``port`` it goes on the default listener under ``prefix``;
        with them it gets its own listener (or joins one already bound there).
        """
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"prefix must look like '/en', not {prefix!r}")
        with self._lock:
            if site._mounted:
                raise ValueError("this site is already served (a site has one home URL)")
            if host is None and port is None:
                if self._default is None:
                    self._default = self._listen(*self._default_addr)
                listener = self._default
            else:
                want = (host or self.host, port or 0)
                bound = next(
                    (lst for lst in self._listeners if want[1] and lst.server_address[:2] == want),
                    None,
                )
                listener = bound if bound is not None else self._listen(*want)
            listener.mount(prefix, site)
            site.home = listener.base + prefix
            site._mounted = True
            self._sites.append((site, listener))
            return site.url

    def _run(self, listener: _Listener) -> None:
        thread = threading.Thread(
            target=listener.serve, name=f"demo-server {listener.base}", daemon=True
        )
        listener.thread = thread
        thread.start()

    def start(self) -> Self:
        with self._lock:
            if not self._started:
                self._started = True
                for listener in self._listeners:
                    self._run(listener)
        return self

    @property
    def url(self) -> str:
        """URL of the first site added."""
        if not self._sites:
            raise RuntimeError("no site added")
        return self._sites[0][0].url

    def url_for(self, site: DemoSite) -> str:
        for s, _ in self._sites:
            if s is site:
                return s.url
        raise KeyError("site not served here")

    @property
    def sites(self) -> list[DemoSite]:
        return [s for s, _ in self._sites]

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{site url: site.stats()}``."""
        return {s.url: s.stats() for s, _ in self._sites}

    def close(self) -> None:
        with self._lock:
            for listener in self._listeners:
                listener.stop()
            for site, _ in self._sites:
                site._mounted = False
            self._listeners.clear()
            self._default = None
            self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
