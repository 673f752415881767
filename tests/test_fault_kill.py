"""Crash safety: kill -9 at random points of rounds and of alert delivery.

Thirty times in a row, the site changes (one post edited, one deleted, one
published, none touched twice) and a `wpwatch crawl` with an email alert is
killed with SIGKILL at a random point: after a random number of the site's
requests (mid-round), or once the SMTP server has received a first message
(mid-delivery). Then one normal round and one `alerts send`. The archive must
pass its integrity checks, every change must be recorded exactly once, every
change must have exactly one alert, all sent, and the mail server must hold one
distinct message per change (a resend after a kill between the server's
acceptance and the commit reuses the Message-ID, so a receiver drops it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import Archive
from archive import schema as s
from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.test_daemon import assert_consistent
from tests.test_fault_matrix import fast_settings  # noqa: F401 (fixture)
from wpwatch.demo.server import DemoSite

REPO = Path(__file__).resolve().parent.parent
ITERATIONS = int(os.environ.get("WPWATCH_KILL_ITERATIONS", "30"))
BUDGET = 40.0 + 12.0 * ITERATIONS  # seconds for the whole loop


@pytest.mark.slow
def test_kill_9_at_random_points_loses_and_doubles_nothing(
    wpwatch: WPWatch, smtp_server: SMTPServer, tls_cert: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = int(os.environ.get("WPWATCH_KILL_SEED", str(random.randrange(1 << 30))))
    print(f"kill loop seed {seed} (WPWATCH_KILL_SEED={seed} repeats it)")
    rng = random.Random(seed)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    site = DemoSite("Killable")
    pool = [site.add(f"Post {i}", f"<p>Body {i}</p>", date=f"2024-01-{i % 28 + 1:02d}T00:00:00Z")
            for i in range(2 * ITERATIONS + 4)]
    rng.shuffle(pool)
    with FaultServer(site) as srv:
        wpwatch.config.write_text(f"""
[[sites]]
name = "killable"
url = "{srv.url}"

{email_alert_toml(smtp_server, tls_cert.cert)}
burst_threshold = 1000  # one message per change here; bursts have tests of their own
""")
        wpwatch.run("crawl")  # the baseline
        expected: list[tuple[int, str]] = []
        kills = {"round": 0, "delivery": 0, "none": 0}
        started = time.monotonic()
        for i in range(ITERATIONS):
            assert time.monotonic() - started < BUDGET, f"over budget after {i} iterations"
            edited, gone = pool.pop(), pool.pop()
            site.edit(edited, title=f"Edited in iteration {i}")
            site.delete(gone)
            fresh = site.add(f"New in iteration {i}", f"<p>News {i}</p>")
            expected += [(edited, "edited"), (gone, "deleted"), (fresh, "new")]
            kills[_crawl_and_kill(wpwatch, srv, smtp_server, rng)] += 1
        print(f"kills: {kills}")
        wpwatch.run("crawl")  # a normal round finds whatever the killed ones missed
        wpwatch.run("alerts", "send", "--now")

    changes = wpwatch.json("changes", "--json")
    assert sorted((c["wp_id"], c["kind"]) for c in changes) == sorted(expected)
    assert_consistent(wpwatch.db)
    verify = wpwatch.run("verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    archive = Archive(str(wpwatch.db))
    try:
        with archive.engine.connect() as conn:
            per_change = dict(conn.execute(
                select(s.alerts.c.change_id, func.count()).group_by(s.alerts.c.change_id)).all())
            statuses = set(conn.execute(select(s.alerts.c.status)).scalars())
    finally:
        archive.close()
    assert per_change == {c["id"]: 1 for c in changes}  # one alert per change, none lost
    assert statuses == {"sent"}
    ids = [m.message()["Message-ID"] for m in smtp_server.messages]
    assert len(set(ids)) == len(changes)  # one distinct message per change
    assert kills["round"] + kills["delivery"] >= ITERATIONS // 2


def _crawl_and_kill(wpwatch: WPWatch, srv: FaultServer, smtp: SMTPServer,
                    rng: random.Random) -> str:
    """Start a crawl and SIGKILL it at a random point; which kind of point it was."""
    requests_before, mails_before = len(srv.requests), len(smtp.messages)
    where = rng.choice(["round", "round", "delivery"])
    after = rng.randint(1, 14)  # the site's requests in a round here: about 8 to 16
    proc = subprocess.Popen(
        [sys.executable, "-m", "wpwatch", "--db", str(wpwatch.db), "--config",
         str(wpwatch.config), "crawl"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=wpwatch.db.parent,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None:
            assert time.monotonic() < deadline, "a crawl neither ended nor reached its kill point"
            if where == "round" and len(srv.requests) - requests_before >= after:
                break
            if where == "delivery" and len(smtp.messages) > mails_before:
                break
            time.sleep(0.002)
        if proc.poll() is not None:
            return "none"
        proc.send_signal(signal.SIGKILL)
        return where
    finally:
        proc.wait(30)
