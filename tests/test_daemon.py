"""The daemon (`python scheduler.py`): schedules, isolation, clean stops, crash safety.

Each test runs the real daemon in a subprocess and waits on what it writes to
the archive (polling it against a deadline), never on fixed sleeps.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import Archive
from archive import schema as s
from tests.faultserver import FaultServer
from tests.waiting import wait_until
from tests.wordpress import WordPressStack
from wpwatch.demo.server import DemoServer, DemoSite

REPO = Path(__file__).resolve().parent.parent


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
                    select(s.rounds, s.sites.c.url)
                    .join(s.sites, s.sites.c.id == s.rounds.c.site_id)
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
            assert (
                conn.execute(select(s.rounds).where(s.rounds.c.outcome == "running")).first()
                is None
            )
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
    wait_until(
        "a baseline round of both sites",
        lambda: {r["url"] for r in d.rounds() if r["outcome"] == "ok"} == {a.url, b.url},
    )
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
def test_a_hung_site_does_not_delay_the_others(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
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
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        # interval 1 s, jitter up to 0.1 s, a round takes well under a second here
        assert max(gaps) < 2.5, gaps
        wait_until("the hung site's round to hit its budget",
                   lambda: any(r["url"] == hung_srv.url and r["outcome"] == "interrupted"
                               for r in d.rounds()), timeout=30)
        assert d.stop(signal.SIGTERM, timeout=30) == 0
    assert_consistent(d.db)


@pytest.mark.slow
def test_kill_9_mid_round_loses_and_doubles_nothing(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
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

    return datetime.fromisoformat(value).timestamp()


def reload_and_wait(d: DaemonProcess, expected: str, timeout: float = 30.0) -> str:
    """SIGHUP, then wait for the next reload line of the log; it must say `expected`."""
    assert d.proc is not None
    before = d.output().count("config reloaded") + d.output().count("config not reloaded")
    d.proc.send_signal(signal.SIGHUP)

    def next_line() -> str | None:
        lines = [ln for ln in d.output().splitlines()
                 if "config reloaded" in ln or "config not reloaded" in ln]
        return lines[before] if len(lines) > before else None

    line = wait_until(f"a reload line saying {expected!r}", next_line, timeout)
    assert expected in line, line
    return line


@pytest.mark.slow
def test_sighup_reloads_sites_and_routes_and_alerts_still_go_out(
    tmp_path: Path, daemons: list[DaemonProcess], smtp_server: Any, tls_cert: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.smtpserver import SMTPServer, email_alert_toml

    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    monkeypatch.delenv("WPWATCH_TEST_UNSET", raising=False)
    alpha, beta = DemoSite("Alpha"), DemoSite("Beta")
    for site in (alpha, beta):
        site.add("First", "<p>One</p>")
    with FaultServer(alpha) as a_srv, FaultServer(beta) as b_srv:
        email = email_alert_toml(smtp_server, tls_cert.cert)
        sites = f"""
[defaults]
interval = "1s"

[[sites]]
name = "alpha"
url = "{a_srv.url}"

[[sites]]
name = "beta"
url = "{b_srv.url}"
"""
        d = DaemonProcess(tmp_path, sites + email, "--grace", "5")
        daemons.append(d.start())
        wait_until("a baseline of both sites", lambda: {r["url"] for r in d.rounds()
                                                        if r["outcome"] == "ok"} >= {a_srv.url,
                                                                                     b_srv.url})
        reload_and_wait(d, "config reloaded: no changes")

        removed = subprocess.run(
            [
                sys.executable,
                "-m",
                "wpwatch",
                "--db",
                str(d.db),
                "--config",
                str(d.config),
                "sites",
                "remove",
                "beta",
            ],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert removed.returncode == 0, removed.stderr
        reload_and_wait(d, "config reloaded: 1 site removed (beta)")
        beta_rounds = len([r for r in d.rounds() if r["url"] == b_srv.url])

        d.config.write_text(d.config.read_text() + 'kinds = ["edited"]\n')  # desk-email's table
        reload_and_wait(d, "config reloaded: routes changed: desk-email")

        # A broken config is refused in one line; the daemon goes on with the one it has.
        good = d.config.read_text()
        d.config.write_text(good + '\n[[alerts]]\nname = "desk-slack"\nchannel = "slack"\n'
                            'webhook_url = "env:WPWATCH_TEST_UNSET"\n')
        line = reload_and_wait(d, "config not reloaded, keeping the old one: alerts.desk-slack."
                                  "webhook_url refers to environment variable WPWATCH_TEST_UNSET")

        # The change comes while the mail server is down: the round's own delivery fails,
        # and only the daemon's alert-delivery job, still running after the reloads, can
        # send it once the server is back (after the first retry delay, 30 s).
        smtp_server.stop()
        first = alpha.ids("post", "publish")[0]
        alpha.edit(first, title="First, quietly edited")
        fresh = alpha.add("Second", "<p>Two</p>")  # new: not wanted by the changed route
        wait_until("the failed delivery logged",
                   lambda: "alert not delivered: desk-email: cannot reach" in d.output())
        smtp_server.start()
        mail = smtp_server.wait_message(timeout=90).message()
        assert mail["Subject"].startswith("[wpwatch] edited: alpha")
        wait_until("the new post recorded", lambda: (a_srv.url, fresh, "new") in d.changes())

        def alert_statuses() -> list[str]:
            # The server holds the mail before the sender records it sent: wait for the record.
            archive = Archive(str(d.db))
            try:
                with archive.engine.connect() as conn:
                    return list(conn.execute(select(s.alerts.c.status)).scalars().all())
            finally:
                archive.close()

        wait_until("the delivery recorded", lambda: alert_statuses() != ["pending"])
        assert alert_statuses() == ["sent"]  # only the edit was routed, and it went out
        assert len([r for r in d.rounds() if r["url"] == b_srv.url]) <= beta_rounds + 1
        assert d.stop() == 0
    log = d.output()
    assert "Traceback" not in log and "IndexError" not in log, log
    assert len(line.splitlines()) == 1
    assert SMTPServer.PASSWORD not in log


@pytest.mark.slow
def test_a_broken_route_stops_the_daemon_and_a_failing_one_holds_back_no_other(
    tmp_path: Path, daemons: list[DaemonProcess], smtp_server: Any, tls_cert: Any,
    webhook_server: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.smtpserver import SMTPServer, email_alert_toml

    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    monkeypatch.delenv("WPWATCH_TEST_SLACK_URL", raising=False)
    site = DemoSite("Alpha")
    site.add("First", "<p>One</p>")
    with FaultServer(site) as srv:
        config = (f'[defaults]\ninterval = "1s"\n\n[[sites]]\nname = "alpha"\nurl = "{srv.url}"\n'
                  + email_alert_toml(smtp_server, tls_cert.cert)
                  + '\n[[alerts]]\nname = "desk-slack"\nchannel = "slack"\n'
                    'webhook_url = "env:WPWATCH_TEST_SLACK_URL"\n')
        refused = DaemonProcess(tmp_path, config)
        daemons.append(refused.start())
        assert refused.proc is not None and refused.proc.wait(60) == 2
        assert refused.output().splitlines() == [
            ("wpwatch: alerts.desk-slack.webhook_url refers to environment variable "
             "WPWATCH_TEST_SLACK_URL, which is not set")
        ]
        assert srv.requests == []

        monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)
        webhook_server.answer(500, b"server_error")
        d = DaemonProcess(tmp_path, config, "--grace", "5")
        d.log.unlink()
        daemons.append(d.start())
        wait_until("a baseline", lambda: any(r["outcome"] == "ok" for r in d.rounds()))
        site.edit(site.ids("post", "publish")[0], title="First, quietly edited")
        assert smtp_server.wait_message(timeout=60).message()["Subject"].startswith(
            "[wpwatch] edited: alpha")
        wait_until("the Slack failure logged", lambda: "alert not delivered: desk-slack" in
                   d.output())
        assert d.stop() == 0
    (failure,) = [ln for ln in d.output().splitlines() if "desk-slack" in ln]
    assert failure.endswith("WARNING wpwatch.daemon: alert not delivered: desk-slack: the Slack "
                            "webhook of alerts.desk-slack (host 127.0.0.1) answered HTTP 500 "
                            "server_error (will retry)")
    assert "Traceback" not in d.output()
    assert webhook_server.SECRET_PATH not in d.output()


def test_without_the_postgres_extra_the_daemon_and_status_run_and_nodes_say_what_to_install(
    tmp_path: Path,
) -> None:
    """`scripts/run` installs no extras: nothing on the SQLite path may need procrastinate or
    psycopg. Both are hidden here by modules that fail to import, as on such an install."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for name in ("procrastinate", "psycopg", "psycopg_pool"):
        (hidden / f"{name}.py").write_text(
            f'raise ModuleNotFoundError("No module named {name!r}", name={name!r})\n')
    env = {**os.environ, "PYTHONPATH": f"{hidden}{os.pathsep}{REPO}"}
    site = DemoSite("Ministry")
    site.add("Statement", "<p>Text.</p>", date="2024-03-01T00:00:00Z")
    with DemoServer() as server:
        url = server.add_site(site, host="127.0.0.1")
        (tmp_path / "wpwatch.toml").write_text(f'[[sites]]\nname = "ministry"\nurl = "{url}"\n')
        log = tmp_path / "daemon.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "wpwatch", "run"], cwd=tmp_path,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until("the first round", lambda: "ministry: ok" in log.read_text(), 60)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, log.read_text()
    status = subprocess.run([sys.executable, "-m", "wpwatch", "status", "--json"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    assert [s["name"] for s in json.loads(status.stdout)] == ["ministry"]
    node = subprocess.run([sys.executable, "-m", "wpwatch", "--db",
                           "postgresql://wpwatch@127.0.0.1:1/none", "run"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert node.returncode == 2 and node.stderr.splitlines() == [
        "wpwatch: several nodes on PostgreSQL need procrastinate: "
        "pip install 'wpwatch[postgres]'"], node.stderr
