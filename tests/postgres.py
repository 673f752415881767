"""A real PostgreSQL server for the tests (Debian's postgresql package, started here).

One server per test session, on 127.0.0.1 and a free port: ``initdb`` into a
temporary directory, ``pg_ctl start``, a fresh database for each test that asks,
``pg_ctl stop`` at the end of the session. Durability is switched off (fsync,
synchronous commit): the tests want a real engine, not a crash-safe one.

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` OS user that Debian's package creates (``runuser -u postgres``),
in a directory that user owns. ``tests/pg/install.sh`` installs the
package; without it the PostgreSQL tests are skipped, unless
``$WPWATCH_REQUIRE_POSTGRES`` or ``$CI`` is set (then a missing server fails).

In pytest::

    pytest_plugins = ["tests.postgres"]          # in tests/conftest.py

    def test_something(archive_url):             # runs twice: SQLite file, PostgreSQL
        archive = Archive(archive_url)

    def test_pg_only(postgres_server):
        url = postgres_server.new_database()     # postgresql://wpwatch@127.0.0.1:PORT/t_N

By hand: ``python -m tests.postgres`` starts a server, prints a database URL and
waits for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import wait_until

USER = "wpwatch"  # the database superuser initdb creates (trust auth, 127.0.0.1 only)
OS_USER = "postgres"  # who runs the server when the tests run as root
START_TIMEOUT = 60  # seconds for pg_ctl start -w


def wait_for_lock_wait(engine: Any, what: str, *, advisory: bool = False,
                       timeout: float = 30.0) -> None:
    """Until a session of the engine's database waits on a lock (``advisory``: on an
    advisory lock). PostgreSQL shows that only in ``pg_stat_activity``, which cannot be
    subscribed to, so it is asked again until it holds; ``what`` names it on a timeout."""
    from sqlalchemy import text

    query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND wait_event_type = 'Lock'" + (" AND wait_event = 'advisory'"
                                                   if advisory else ""))

    def waiting() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(query).scalar_one())

    wait_until(what, waiting, timeout)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory ($WPWATCH_PG_BIN wins), or None."""
    if env := os.environ.get("WPWATCH_PG_BIN"):
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def missing_requirements() -> list[str]:
    missing = []
    if postgres_bin() is None:
        missing.append("PostgreSQL server binaries (tests/pg/install.sh)")
    if importlib.util.find_spec("psycopg") is None:
        missing.append("psycopg (pip install 'wpwatch[postgres]')")
    return missing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; ``new_database()`` hands out an empty database per caller."""

    bin_dir: Path
    root: Path
    port: int
    run_as: str | None
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _command(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run(self._command(tool, *args), capture_output=True, text=True,
                              timeout=START_TIMEOUT + 30, cwd=self.root)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} exited {proc.returncode}:\n"
                               f"{proc.stdout}{proc.stderr}\n{tail}")

    def start(self) -> None:
        """Start the server; the first start creates its data directory (initdb), a
        later one (after :meth:`stop`: a database that went away) reuses it."""
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E",
                      "UTF8", "--locale=C", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", str(START_TIMEOUT), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def sql(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def new_database(self) -> str:
        """An empty database of its own; its URL."""
        name = f"t_{next(self._numbers)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a throw-away server; stop it and remove its files on exit."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: run tests/pg/install.sh")
    run_as = OS_USER if os.geteuid() == 0 else None
    # Not under pytest's tmp dir: that is mode 0700 for root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="wpwatch-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bin_dir, root, free_port(), run_as)
    try:
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _required() -> bool:
    return bool(os.environ.get("WPWATCH_REQUIRE_POSTGRES") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use."""
    missing = missing_requirements()
    if missing:
        message = "PostgreSQL tests need " + ", ".join(missing)
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's archive lives, once per engine: an SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "a.db")
    return str(request.getfixturevalue("postgres_url"))


if __name__ == "__main__":
    import signal

    with running_postgres() as pg:
        print(pg.new_database(), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
