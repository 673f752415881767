"""The daemon (`python scheduler.py`): schedules, isolation, clean stops, crash safety.

Each test runs the real daemon in a subprocess and waits on what it writes to
the archive (polling it against a deadline), never on fixed sleeps.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import Archive
from archive import schema as s
from tests.faultserver import FaultServer
from tests.wordpress import WordPressStack
from wpwatch.demo.server import DemoSite

REPO = Path(__file__).resolve().parent.parent


def wait_until(what: str, pred: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class DaemonProcess:
    def __init__(self, tmp: Path, config: str, *args: str) -> None:
        self.db = tmp / "wpwatch.db"
        self.config = tmp / "wpwatch.toml"
        self.config.write_text(config)
        self.log = tmp / "daemon.log"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "scheduler.py"), "--db", str(self.db),
                 "--config", str(self.config), *self.args],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.db.parent,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def rounds(self) -> list[dict[str, Any]]:
        archive = Archive(str(self.db))
        try:
            with archive.engine.connect() as conn:
                rows = conn.execute(
                    select(s.rounds, s.sites.c.url).join(s.sites, s.sites.c.id == s.rounds.c.site_id)
                    .order_by(s.rounds.c.id)
                ).mappings()
                return [dict(r) for r in rows]
        finally:
            archive.close()

    def changes(self) -> list[tuple[str, int, str]]:
        archive = Archive(str(self.db))
        try:
            return sorted((c["site"], c["wp_id"], c["kind"]) for c in archive.changes())
        finally:
            archive.close()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


def assert_consistent(db: Path) -> None:
    """No round left running; changes point at stored versions; raw bytes match their hashes."""
    archive = Archive(str(db))
    try:
        with archive.engine.connect() as conn:
            assert conn.execute(select(s.rounds).where(s.rounds.c.outcome == "running")).first() is None
            version_ids = set(conn.execute(select(s.versions.c.id)).scalars())
            for ch in conn.execute(select(s.changes)).mappings():
                for ref in (ch["from_version_id"], ch["to_version_id"]):
                    assert ref is None or ref in version_ids, ch
            for r in conn.execute(select(s.responses.c.body, s.responses.c.sha256)):
                assert hashlib.sha256(zlib.decompress(r.body)).hexdigest() == r.sha256
            dupes = conn.execute(
                select(s.versions.c.post_id, s.versions.c.content_hash)
                .group_by(s.versions.c.post_id, s.versions.c.content_hash)
                .having(func.count() > 1)
            ).all()
            assert dupes == [], "a version stored twice"
    finally:
        archive.close()


@pytest.mark.wordpress
@pytest.mark.slow
def test_daemon_watches_two_real_sites_and_stops_cleanly(
    wp_stack: WordPressStack, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    a = wp_stack.site(wp_stack.port(5))
    b = wp_stack.site(wp_stack.port(6))
    for site in (a, b):
        site.reset()
    a_posts = [a.create(f"A {i}", f"<p>Alpha {i}</p>")["id"] for i in range(3)]
    b_posts = [b.create(f"B {i}", f"<p>Beta {i}</p>")["id"] for i in range(3)]
    d = DaemonProcess(tmp_path, f"""
[defaults]
interval = "2s"

[[sites]]
name = "a"
url = "{a.url}"

[[sites]]
name = "b"
url = "{b.url}"
""", "--grace", "10")
    daemons.append(d.start())
    wait_until("a baseline round of both sites", lambda: {r["url"] for r in d.rounds()
                                                          if r["outcome"] == "ok"} == {a.url, b.url})
    fresh = a.create("A fresh", "<p>News</p>")["id"]
    a.update(a_posts[0], title="A 0 (edited)")
    b.delete(b_posts[1])
    expected = sorted([(a.url, fresh, "new"), (a.url, a_posts[0], "edited"),
                       (b.url, b_posts[1], "deleted")])
    wait_until("the changes in the archive", lambda: d.changes() == expected)
    started = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10 + 5
    assert "SIGTERM: stopping" in d.output() and "stopped" in d.output()
    assert d.changes() == expected  # nothing doubled by later rounds
    assert_consistent(d.db)


@pytest.mark.slow
def test_a_hung_site_does_not_delay_the_others(tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    good, hung = DemoSite("Good"), DemoSite("Hung")
    for site in (good, hung):
        site.add("Post", "<p>Body</p>")
    with FaultServer(good) as good_srv, FaultServer(hung) as hung_srv:
        hung_srv.hold("wp-json")  # the API never answers
        d = DaemonProcess(tmp_path, f"""
[defaults]
interval = "1s"

[[sites]]
name = "good"
url = "{good_srv.url}"

[[sites]]
name = "hung"
url = "{hung_srv.url}"
round_timeout = "3s"
""", "--grace", "2")
        daemons.append(d.start())

        def good_rounds() -> list[dict[str, Any]]:
            return [r for r in d.rounds() if r["url"] == good_srv.url and r["outcome"] == "ok"]

        wait_until("eight rounds of the good site", lambda: len(good_rounds()) >= 8, timeout=60)
        starts = [_ts(r["started_at"]) for r in good_rounds()]
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        # interval 1 s, jitter up to 0.1 s, a round takes well under a second here
        assert max(gaps) < 2.5, gaps
        wait_until("the hung site's round to hit its budget",
                   lambda: any(r["url"] == hung_srv.url and r["outcome"] == "interrupted"
                               for r in d.rounds()), timeout=30)
        assert d.stop(signal.SIGTERM, timeout=30) == 0
    assert_consistent(d.db)


@pytest.mark.slow
def test_kill_9_mid_round_loses_and_doubles_nothing(tmp_path: Path, daemons: list[DaemonProcess]) -> None:
    site = DemoSite("Big")
    site.add_many(250)
    with FaultServer(site) as srv:
        gate = srv.hold("page=2")  # the baseline stops after its first page
        config = f'[defaults]\ninterval = "1s"\n\n[[sites]]\nname = "big"\nurl = "{srv.url}"\n'
        first = DaemonProcess(tmp_path, config)
        daemons.append(first.start())

        def versions() -> int:
            archive = Archive(str(first.db))
            try:
                with archive.engine.connect() as conn:
                    return len(conn.execute(select(s.versions.c.id)).all())
            finally:
                archive.close()

        wait_until("the first page stored", lambda: versions() == 100)
        first.stop(signal.SIGKILL)
        srv.heal()
        gate.set()
        second = DaemonProcess(tmp_path, config)
        daemons.append(second.start())
        wait_until("a complete round after the restart",
                   lambda: any(r["outcome"] == "ok" for r in second.rounds()), timeout=60)
        assert second.stop() == 0
    outcomes = [r["outcome"] for r in second.rounds()]
    assert outcomes[0] == "interrupted" and "ok" in outcomes
    assert versions() == 250  # one version per post: nothing lost, nothing doubled
    assert second.changes() == []  # still the baseline: no changes invented
    assert_consistent(second.db)
    status = subprocess.run(
        [sys.executable, "-m", "wpwatch", "--db", str(second.db), "--config",
         str(second.config), "status", "--json"],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert '"last_interrupted"' in status.stdout


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
