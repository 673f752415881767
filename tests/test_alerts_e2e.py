"""Alerts end to end: crawl → outbox (same transaction) → real SMTP and webhook servers.

Never lost (a server down keeps them queued; a kill -9 before delivery loses
nothing), never doubled (a second send sends nothing).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.webhookserver import WebhookServer
from wpwatch.demo.server import DemoSite

REPO = Path(__file__).resolve().parent.parent



@pytest.fixture
def wpwatch(wpwatch_all_engines: WPWatch) -> WPWatch:
    """These tests run on SQLite and on PostgreSQL (tests/postgres.py)."""
    return wpwatch_all_engines


@pytest.fixture
def site() -> Iterator[tuple[DemoSite, FaultServer]]:
    demo = DemoSite("Ministry of Examples")
    for i in range(4):
        demo.add(
            f"Statement {i}",
            f"<p>We confirm that the report on case {i} will be published.</p>",
            date=f"2025-0{i + 1}-01T00:00:00Z",
        )
    with FaultServer(demo) as srv:
        yield demo, srv


def write_config(wpwatch: WPWatch, url: str, smtp: SMTPServer, ca_file: str,
                 webhook: WebhookServer | None = None, extra: str = "") -> None:
    text = f"""
[[sites]]
name = "ministry"
url = "{url}"
"""
    text += email_alert_toml(smtp, ca_file) + extra + "\n"
    if webhook is not None:
        text += """
[[alerts]]
name = "desk-slack"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"
"""
    wpwatch.config.write_text(text)


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch, webhook_server: WebhookServer) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)


def test_changes_arrive_by_email_and_slack_once(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
    webhook_server: WebhookServer, tls_cert: Any,
) -> None:
    demo, srv = site
    write_config(wpwatch, srv.url, smtp_server, str(tls_cert.cert), webhook_server)
    wpwatch.run("crawl")  # baseline: no alerts
    assert smtp_server.messages == [] and webhook_server.posts == []
    target = demo.ids("post", "publish")[0]
    # title.rendered is HTML: WordPress serves a typed "<!channel>" as &lt;!channel&gt;
    demo.edit(target, title="Statement &lt;!channel&gt; *URGENT*",
              content="<p>We confirm that the report on case 0 will follow.</p>")
    out = wpwatch.run("crawl").stdout
    assert "alerts: 2 message(s) sent, 0 failed" in out
    mail = smtp_server.wait_message().message()
    assert mail["Subject"].startswith("[wpwatch] edited: ministry")
    assert mail["To"] == "desk@example.org"
    text = mail.get_body(("plain",)).get_content()
    assert "will [-be published.-] {+follow.+}" in text
    post = webhook_server.wait_post().json()
    assert "&lt;!channel&gt;" in post["text"] and "<!channel>" not in str(post)
    wpwatch.run("alerts", "send")
    assert len(smtp_server.messages) == 1 and len(webhook_server.posts) == 1
    assert wpwatch.json("alerts", "pending", "--json") == []


def test_smtp_down_keeps_alerts_queued_then_sends_each_once(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
    tls_cert: Any,
) -> None:
    demo, srv = site
    write_config(wpwatch, srv.url, smtp_server, str(tls_cert.cert))
    wpwatch.run("crawl")
    smtp_server.stop()
    ids = demo.ids("post", "publish")
    demo.edit(ids[1], title="Statement 1, revised")
    demo.delete(ids[2])
    proc = wpwatch.run("crawl", check=False)
    assert proc.returncode == 3, proc.stderr  # crawled fine, alerts not delivered
    assert "0 message(s) sent, 2 failed" in proc.stdout
    kinds = sorted(c["kind"] for c in wpwatch.json("changes", "--json"))
    assert kinds == ["deleted", "edited"]
    (status,) = wpwatch.json("status", "--json")
    assert status["pending_alerts"] == 2
    pending = wpwatch.json("alerts", "pending", "--json")
    assert all("connection refused" in p["last_error"] for p in pending)
    assert SMTPServer.PASSWORD not in proc.stdout + proc.stderr
    smtp_server.start()
    out = wpwatch.run("alerts", "send", "--now").stdout
    assert "sent 2 message(s) for 2 alert(s); 0 failed" in out
    wpwatch.run("alerts", "send", "--now")
    assert len(smtp_server.messages) == 2
    subjects = sorted(m.message()["Subject"] for m in smtp_server.messages)
    assert subjects[0].startswith("[wpwatch] deleted:") and subjects[1].startswith(
        "[wpwatch] edited:"
    )


def test_kill_9_before_delivery_loses_nothing(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, tls_cert: Any,
) -> None:
    demo, srv = site
    # An SMTP port that accepts connections and never answers: delivery hangs
    # after the changes and their alerts are committed.
    hold = socket.socket()
    hold.bind(("127.0.0.1", 0))
    hold.listen(8)
    port = hold.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(hold.accept()[0]), daemon=True).start()
    fake = SMTPServer(mode="starttls", cert=tls_cert)
    fake.port = port
    write_config(wpwatch, srv.url, fake, str(tls_cert.cert), extra="")
    wpwatch.run("crawl", "--no-alerts")  # baseline
    demo.edit(demo.ids("post", "publish")[3], title="Statement 3, softened")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wpwatch", "--db", wpwatch.db_arg, "--config",
         str(wpwatch.config), "crawl"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=wpwatch.db.parent,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not accepted:  # the crawl stored its change and is now stuck delivering
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    hold.close()
    for conn in accepted:
        conn.close()
    assert len(wpwatch.json("alerts", "pending", "--json")) == 1
    with SMTPServer(mode="starttls", cert=tls_cert) as real:
        real.port = port
        real.stop()
        real.start()
        wpwatch.run("alerts", "send", "--now")
        wpwatch.run("alerts", "send", "--now")
        assert len(real.messages) == 1
        assert real.messages[0].message()["Subject"].startswith("[wpwatch] edited:")
    assert wpwatch.json("alerts", "pending", "--json") == []


@pytest.mark.parametrize("digest", ["round", "daily"])
def test_digests_group_changes(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer, tls_cert: Any,
    digest: str,
) -> None:
    demo, srv = site
    # daily at a time just passed: due tomorrow, so it must wait
    write_config(wpwatch, srv.url, smtp_server, str(tls_cert.cert),
                 extra=f'digest = "{digest}"\ndigest_at = "00:00"\n')
    wpwatch.run("crawl")
    ids = demo.ids("post", "publish")
    demo.edit(ids[0], title="First, revised")
    demo.edit(ids[1], title="Second, revised")
    wpwatch.run("crawl")
    if digest == "round":
        mail = smtp_server.wait_message().message()
        assert len(smtp_server.messages) == 1
        assert mail["Subject"] == "[wpwatch] 2 changes on 1 site (round digest)"
        body = mail.get_body(("plain",)).get_content()
        assert "First, revised" in body and "Second, revised" in body
        assert wpwatch.json("alerts", "pending", "--json") == []
    else:
        assert smtp_server.messages == []
        waiting = wpwatch.json("alerts", "pending", "--json")
        assert [w["digest"] for w in waiting] == ["daily", "daily"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert all(w["due_at"] > now for w in waiting)  # tomorrow at 00:00 local
        out = wpwatch.run("alerts", "send", "--dry-run").stdout
        assert "would send" not in out  # not due yet: a manual send keeps digest times
        waiting = [ln for ln in out.splitlines() if ln.startswith("waiting: alert #")]
        assert len(waiting) == 2 and all("daily digest due 20" in ln for ln in waiting), out
