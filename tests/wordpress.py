"""Real WordPress sites for the tests (Debian's wordpress package, stdlib only).

The stack of one state directory ($WPWATCH_WP_STATE, else <repo>/.wp/):

- one MariaDB server on a unix socket, run by ``tests/wp/start.sh`` and ``tests/wp/stop.sh``;
- any number of sites, one per port, each its own database ``wp_<port>``, served by
  ``php -S 127.0.0.1:<port>`` (4 workers) through ``tests/wp/router.php``;
- ``tests/wp/ctl.php``, which changes a site through WordPress's own functions and
  prints JSON (its header documents every command).

In pytest::

    pytest_plugins = ["tests.wordpress"]      # in tests/conftest.py

    @pytest.mark.wordpress
    def test_something(wp_site):              # site on port 8089, emptied by reset()
        post = wp_site.create("Hello", "<p>text</p>", date="2020-01-01T00:00:00Z")
        assert wp_site.rest_get(f"/wp/v2/posts/{post['id']}").status == 200

    def test_other(wp_stack):                 # the session's stack: more sites
        site = wp_stack.site(wp_stack.port(1), timezone="Asia/Shanghai", permalinks="")

By hand: ``python -m tests.wordpress up 8089 8090`` starts MariaDB and the sites and
leaves them running; ``python -m tests.wordpress down`` (or ``tests/wp/stop.sh``) stops
everything.

One stack per state directory at a time: a new ``site(port)`` restarts a php -S left
on that port by an earlier run of the same state dir. Parallel runs (pytest-xdist,
another checkout) need their own $WPWATCH_WP_STATE and $WPWATCH_WP_PORT.
"""

from __future__ import annotations

import argparse
import contextlib
import email.message
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

try:
    import pytest
except ImportError:  # the module also works without pytest (python -m tests.wordpress)
    pytest = None

REPO = Path(__file__).resolve().parent.parent
WP_TESTS = REPO / "tests" / "wp"
WP_ROOT = Path("/usr/share/wordpress")
PHP_WORKERS = 4
START_TIMEOUT = 30.0  # seconds for a php -S site to answer

_UNSET: Any = object()


def default_state_dir() -> Path:
    return Path(os.environ.get("WPWATCH_WP_STATE") or REPO / ".wp")


def base_port() -> int:
    """First test port: $WPWATCH_WP_PORT, else 8089 (the tests use 8089-8099)."""
    return int(os.environ.get("WPWATCH_WP_PORT") or 8089)


def missing_requirements() -> list[str]:
    """What tests/wp/install.sh would still have to install, if anything."""
    missing = [cmd for cmd in ("php", "mariadbd", "mariadb-install-db") if not shutil.which(cmd)]
    if not (WP_ROOT / "wp-load.php").exists():
        missing.append(str(WP_ROOT))
    return missing


class WordPressError(RuntimeError):
    """The test stack could not do what was asked."""


class CtlError(WordPressError):
    """tests/wp/ctl.php failed; the message includes its stderr."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str):
        self.args_ = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.strip() or stdout.strip()[:2000]
        super().__init__(f"ctl.php {' '.join(args)} failed (exit {returncode}): {detail}")


# --------------------------------------------------------------------------- HTTP


@dataclass
class Response:
    """An HTTP response, whatever its status (no exception for 4xx/5xx)."""

    url: str
    status: int
    headers: email.message.Message  # case-insensitive: headers["Link"], get_all()
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # hand 3xx responses back as they are


_opener = urllib.request.build_opener(_NoRedirect)


def http_get(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, timeout: float = 30
) -> Response:
    """GET (or HEAD, ...) ``url`` without following redirects."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=timeout) as resp:
            return Response(url, resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Response(url, err.code, err.headers, err.read())


# --------------------------------------------------------------------------- sites


def _terms(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _date(value: str | datetime) -> str:
    """ISO 8601 for ctl.php; a naive datetime is taken as UTC."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _options(**options: Any) -> list[str]:
    """--name=value arguments; None is left out, True is a bare flag, lists are joined."""
    args = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")  # as_ → --as
        if value is True:
            args.append(f"--{name}")
        elif name in ("categories", "tags", "topics"):
            args.append(f"--{name}={_terms(value)}")
        elif name == "date":
            args.append(f"--{name}={_date(value)}")
        else:
            args.append(f"--{name}={value}")
    return args


class WPSite:
    """One test site. Post-returning methods return ctl.php's post JSON: id, type, status,
    title, content, slug, date, date_gmt, modified, modified_gmt (REST format, no zone),
    link, categories, tags, topics (term IDs)."""

    def __init__(self, stack: WordPressStack, port: int, timezone: str, permalinks: str):
        self.stack = stack
        self.port = port
        self.timezone = timezone
        self.permalinks = permalinks
        self.url = f"http://127.0.0.1:{port}"

    def __repr__(self) -> str:
        return f"WPSite({self.url}, timezone={self.timezone!r}, permalinks={self.permalinks!r})"

    # -- REST over HTTP

    @property
    def rest_root(self) -> str:
        """The REST root as the site advertises it (Link rel="https://api.w.org/")."""
        if self.permalinks:
            return f"{self.url}/wp-json/"
        return f"{self.url}/index.php?rest_route=/"

    def rest_url(self, route: str, params: dict[str, Any] | None = None) -> str:
        """URL of a REST route ("/wp/v2/posts") with query parameters, for this site's
        permalink mode."""
        route = "/" + route.lstrip("/")
        query = urllib.parse.urlencode(params or {})
        if self.permalinks:
            return f"{self.url}/wp-json{route}" + (f"?{query}" if query else "")
        url = f"{self.url}/?rest_route={urllib.parse.quote(route)}"
        return url + (f"&{query}" if query else "")

    def rest_get(self, route: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Response:
        """Anonymous GET of a REST route; any status is returned, not raised."""
        return http_get(self.rest_url(route, params), **kwargs)

    # -- ctl.php

    def ctl(self, *args: str, input: str | None = None, timeout: float = 600) -> Any:
        """Run ``tests/wp/ctl.php --port=PORT ARGS...`` and return its decoded JSON."""
        return self.stack._ctl(self.port, [str(a) for a in args], input=input, timeout=timeout)

    def batch(self, *commands: Iterable[Any]) -> list[Any]:
        """Several ctl commands in one PHP process (faster); not atomic.
        ``site.batch(["touch", 5], ["trash", 6])``"""
        payload = json.dumps([[str(a) for a in cmd] for cmd in commands])
        return self.ctl("batch", input=payload)

    def create(
        self,
        title: str = "",
        content: str = "",
        *,
        type: str = "post",
        status: str = "publish",
        date: str | datetime | None = None,
        slug: str | None = None,
        categories: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        topics: str | Iterable[str] | None = None,
        as_user: str | None = None,
    ) -> dict[str, Any]:
        """wp_insert_post. With ``date`` the post is back-dated like an import: modified = date.
        ``as_user``: the login of the author (default admin)."""
        return self.ctl(
            "create",
            *_options(
                type=type,
                as_=as_user,
                title=title,
                content=content,
                status=status,
                date=date,
                slug=slug,
                categories=categories,
                tags=tags,
                topics=topics,
            ),
        )

    def update(self, post_id: int, *, as_user: str | None = None, **fields: Any) -> dict[str, Any]:
        """wp_update_post like the editor (modified = now). Fields: title, content, status,
        date, slug, categories, tags, topics. ``as_user``: the login saving it (the author of
        the revision WordPress stores; default admin)."""
        return self.ctl("update", post_id, *_options(as_=as_user, **fields))

    def touch(self, post_id: int, *, raw: bool = False) -> dict[str, Any]:
        """Re-save without changes (modified = now); ``raw``: SQL on post_modified only."""
        return self.ctl("touch", post_id, *_options(raw=raw))

    def trash(self, post_id: int) -> dict[str, Any]:
        return self.ctl("trash", post_id)

    def untrash(self, post_id: int, *, previous_status: bool = False) -> dict[str, Any]:
        """Status becomes draft (WordPress >= 5.6) unless ``previous_status``."""
        return self.ctl("untrash", post_id, *_options(previous_status=previous_status))

    def delete(self, post_id: int) -> dict[str, Any]:
        """Permanent delete: {"id": N, "deleted": true}."""
        return self.ctl("delete", post_id)

    def set_terms(
        self,
        post_id: int,
        *,
        categories: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        topics: str | Iterable[str] | None = None,
        append: bool = False,
    ) -> dict[str, Any]:
        """wp_set_object_terms only, as plugins do: modified does not move."""
        return self.ctl(
            "set-terms",
            post_id,
            *_options(categories=categories, tags=tags, topics=topics, append=append),
        )

    def rename_term(self, taxonomy: str, old: str, new: str) -> dict[str, Any]:
        """{"term_id", "taxonomy", "name", "slug"}; posts' modified does not move."""
        return self.ctl("rename-term", taxonomy, old, new)

    def schedule(
        self,
        title: str = "",
        content: str = "",
        *,
        in_seconds: int = 3600,
        type: str = "post",
        **terms: str | Iterable[str],
    ) -> dict[str, Any]:
        """A ``future`` post, saved like the editor does (modified = now), dated
        ``in_seconds`` (>= 60) ahead. Make it go live with publish_due()."""
        return self.ctl(
            "schedule",
            *_options(**{"in": in_seconds}, type=type, title=title, content=content, **terms),
        )

    def publish_due(self, post_id: int, *, date: str | datetime | None = None) -> dict[str, Any]:
        """Let time pass for a scheduled post: its date becomes now (or ``date``, not in
        the future), its modified stays, and WP-Cron's publish_future_post runs. The
        post goes live with its old modified_gmt, as on a real site."""
        return self.ctl("publish-due", post_id, *_options(date=date))

    def cron(self) -> list[dict[str, Any]]:
        """Run due WP-Cron events: [{"hook", "args", "timestamp"}]."""
        return self.ctl("cron")

    def bulk_create(
        self, n: int, *, type: str = "post", status: str = "publish", step: int = 60
    ) -> dict[str, Any]:
        """``n`` posts inserted like an importer, dated ``step`` s apart up to ``step`` s
        ago (modified = date): {"count", "first_id", "last_id", "ids"}."""
        return self.ctl("bulk-create", n, *_options(type=type, status=status, step=step))

    def reset(self) -> dict[str, Any]:
        """Delete all posts (every type) and terms but the default category; restore the
        site's timezone and permalinks. IDs keep counting up."""
        return self.ctl("reset", f"--timezone={self.timezone}", f"--permalinks={self.permalinks}")

    def get(self, post_id: int) -> dict[str, Any] | None:
        """The post as WordPress has it (any status), or None if it does not exist."""
        return self.ctl("get", post_id)

    def option(self, name: str, value: Any = _UNSET) -> Any:
        """Read, or set then read, an option as WordPress reads it from the database
        (numbers come back as strings). Non-string values are sent as JSON."""
        if value is _UNSET:
            return self.ctl("option", name)["value"]
        if isinstance(value, str):
            return self.ctl("option", name, value)["value"]
        return self.ctl("option", name, json.dumps(value), "--json")["value"]

    def app_password(self, name: str | None = None, *, user: str = "admin") -> dict[str, Any]:
        """A new application password for ``user``: {"user", "password", "uuid"}."""
        return self.ctl("app-password", *([name] if name else []), f"--user={user}")

    def revoke_app_password(self, uuid: str, *, user: str = "admin") -> dict[str, Any]:
        """Delete one application password of ``user`` (as "Revoke" in the profile does)."""
        return self.ctl("revoke-app-password", uuid, f"--user={user}")

    def user(self, login: str, *, role: str = "editor") -> dict[str, Any]:
        """The user ``login``, created when missing: {"id", "login", "role"}."""
        return self.ctl("user", login, f"--role={role}")

    def autosave(self, post_id: int, *, as_user: str, **fields: Any) -> dict[str, Any]:
        """An editor's autosave of the post by ``as_user`` (title, content): {"autosave_id"}."""
        return self.ctl("autosave", post_id, *_options(as_=as_user, **fields))


# --------------------------------------------------------------------------- stack


class WordPressStack:
    """MariaDB plus the php -S sites of one state directory.

    ``close()`` stops the php -S servers this object started, and MariaDB if this
    object started it (a server that was already running is left running).
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None, *, php: str = "php"):
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.php = php
        self.sites: dict[int, WPSite] = {}
        self._servers: dict[int, subprocess.Popen[bytes]] = {}
        self._started_db = False
        self._db_up = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db_socket(self) -> Path:
        """MariaDB's socket (user wordpress, password wordpress; root by socket auth)."""
        return self.state_dir / "mysqld.sock"

    def port(self, offset: int = 0) -> int:
        """A test port: base_port() + offset."""
        return base_port() + offset

    def _env(self) -> dict[str, str]:
        return {**os.environ, "WPWATCH_WP_STATE": str(self.state_dir)}

    def start(self) -> None:
        """Start MariaDB unless it runs already (tests/wp/start.sh)."""
        if self._db_up:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.state_dir.resolve()
        out = self._script("start.sh")
        self._started_db = self._started_db or out.startswith("started")
        self._db_up = True

    def _script(self, name: str) -> str:
        proc = subprocess.run(
            ["bash", str(WP_TESTS / name)],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode:
            raise WordPressError(
                f"tests/wp/{name} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        return proc.stdout.strip()

    def _ctl(self, port: int, args: list[str], *, input: str | None, timeout: float) -> Any:
        # opcache's file cache halves the time of a ctl.php call (~0.2 s -> ~0.1 s:
        # compiling WordPress is most of it); timestamps are still checked.
        opcache = self.state_dir / "opcache"
        opcache.mkdir(exist_ok=True)
        cmd = [
            self.php,
            "-d",
            "opcache.enable_cli=1",
            "-d",
            f"opcache.file_cache={opcache}",
            "-d",
            "opcache.file_cache_only=1",
            str(WP_TESTS / "ctl.php"),
            f"--port={port}",
            f"--state={self.state_dir}",
            *args,
        ]
        proc = subprocess.run(
            cmd,
            env=self._env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode:
            raise CtlError(args, proc.returncode, proc.stdout, proc.stderr)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise CtlError(args, proc.returncode, proc.stdout, "output is not JSON") from None

    def site(
        self, port: int | None = None, *, timezone: str = "UTC", permalinks: str = "/%postname%/"
    ) -> WPSite:
        """The site on ``port`` (default: base_port()), created if needed and served.

        ``permalinks`` is a permalink structure, "" for plain links (?p=1, ?rest_route=).
        Asking again for a running site with other settings just changes its options.
        """
        port = self.port() if port is None else port
        self.start()
        site = self.sites.get(port)
        if site is not None:
            if (site.timezone, site.permalinks) != (timezone, permalinks):
                site.timezone, site.permalinks = timezone, permalinks
                self._ctl(
                    port,
                    ["setup", f"--timezone={timezone}", f"--permalinks={permalinks}"],
                    input=None,
                    timeout=120,
                )
            return site
        self._stop_leftover_server(port)
        if _port_in_use(port):
            raise WordPressError(
                f"port {port} is in use by another program: choose other "
                f"ports (WPWATCH_WP_PORT sets the first test port)"
            )
        # Config files and database are written before php -S starts, so its opcache
        # never holds an outdated copy (docs/wordpress-rest.md §14).
        self._ctl(
            port,
            ["setup", f"--timezone={timezone}", f"--permalinks={permalinks}"],
            input=None,
            timeout=120,
        )
        site = WPSite(self, port, timezone, permalinks)
        self._serve(site)
        self.sites[port] = site
        return site

    def _site_dir(self, port: int) -> Path:
        return self.state_dir / "sites" / str(port)

    def _stop_leftover_server(self, port: int) -> None:
        """Stop a php -S of this state dir left by an earlier run (crashed or `up`)."""
        pidfile = self._site_dir(port) / "php.pid"
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            pidfile.unlink(missing_ok=True)
            return
        if f"127.0.0.1:{port}".encode() in cmdline and b"-S" in cmdline and os.getpgid(pid) == pid:
            _kill_group(pid)
        pidfile.unlink(missing_ok=True)

    def _serve(self, site: WPSite) -> None:
        site_dir = self._site_dir(site.port)
        env = {**self._env(), "PHP_CLI_SERVER_WORKERS": str(PHP_WORKERS)}
        with open(site_dir / "php.log", "wb") as log:
            # Own session: the master and its workers form a process group that
            # close() and stop.sh signal as a whole.
            proc = subprocess.Popen(
                [
                    self.php,
                    "-S",
                    f"127.0.0.1:{site.port}",
                    "-t",
                    str(WP_ROOT),
                    str(WP_TESTS / "router.php"),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._servers[site.port] = proc
        (site_dir / "php.pid").write_text(f"{proc.pid}\n")
        self._wait_ready(site, proc)

    def _wait_ready(self, site: WPSite, proc: subprocess.Popen[bytes]) -> None:
        """Poll the REST index until WordPress answers for this site."""
        url = f"{site.url}/?rest_route=/"
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = (self._site_dir(site.port) / "php.log").read_text(errors="replace")
                raise WordPressError(
                    f"php -S on port {site.port} exited ({proc.returncode}):\n{log[-2000:]}"
                )
            try:
                resp = http_get(url, timeout=5)
            except OSError as err:  # not listening yet
                last = str(err)
            else:
                try:
                    if resp.status == 200 and resp.json().get("url") == site.url:
                        return
                except ValueError:
                    pass
                last = f"HTTP {resp.status}: {resp.text[:500]}"
            time.sleep(0.05)
        raise WordPressError(f"site {site.url} not ready after {START_TIMEOUT:.0f} s: {last}")

    def stop_site(self, port: int) -> None:
        """Stop the php -S of a site started by this object (its database stays)."""
        proc = self._servers.pop(port, None)
        self.sites.pop(port, None)
        if proc is not None:
            _kill_group(proc.pid, proc)
            (self._site_dir(port) / "php.pid").unlink(missing_ok=True)

    def close(self) -> None:
        for port in list(self._servers):
            self.stop_site(port)
        if self._started_db:
            self._script("stop.sh")
            self._started_db = False
        self._db_up = False


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _kill_group(pid: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group led by ``pid`` (a php -S we started) and wait for it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if proc is not None:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            proc.wait()
        return
    # Not our child: poll until it is gone (or a zombie awaiting its reaper).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- pytest

if pytest is not None:

    @pytest.fixture(scope="session")
    def wp_stack() -> Iterator[WordPressStack]:
        """The session's WordPress stack (MariaDB started once, stopped at the end if
        this session started it). Skips when the packages are missing, but fails
        under $CI or $WPWATCH_REQUIRE_WORDPRESS: there a skip would hide a broken setup."""
        missing = missing_requirements()
        if missing:
            message = (
                f"real WordPress not installed (missing {', '.join(missing)}): "
                f"run `bash tests/wp/install.sh` as root"
            )
            if os.environ.get("WPWATCH_REQUIRE_WORDPRESS") or os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        stack = WordPressStack()
        try:
            stack.start()
            yield stack
        finally:
            stack.close()

    @pytest.fixture
    def wp_site(wp_stack: WordPressStack) -> WPSite:
        """The default site (port base_port(), UTC, /%postname%/), emptied by reset()."""
        site = wp_stack.site()
        site.reset()
        return site


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.wordpress",
        description="Start or stop the real-WordPress test stack by hand.",
        epilog="example: python -m tests.wordpress up 8089 && "
        "php tests/wp/ctl.php --port=8089 create --title=Hi",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start MariaDB and sites; they keep running")
    up.add_argument("ports", nargs="*", type=int, help=f"site ports (default {base_port()})")
    up.add_argument("--timezone", default="UTC")
    up.add_argument("--permalinks", default="/%postname%/", help='"" for plain permalinks')
    sub.add_parser("down", help="stop every site and MariaDB (tests/wp/stop.sh)")
    args = parser.parse_args(argv)
    stack = WordPressStack()
    if args.command == "down":
        print(stack._script("stop.sh"))
        return 0
    for port in args.ports or [base_port()]:
        start = time.monotonic()
        site = stack.site(port, timezone=args.timezone, permalinks=args.permalinks)
        print(f"{site.url} ready in {time.monotonic() - start:.1f} s")
    # Leave the servers running: forget them without close().
    stack._servers.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
