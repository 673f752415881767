"""When alerting goes wrong, as a user meets it through `wpwatch crawl` and `wpwatch alerts`.

A broken route stops `crawl` before any request, in one line naming the key;
a channel failing at delivery time fails alone (the other channel's message
still goes), is one line naming it and is shown by `status` and `alerts
pending`; `crawl` exits 3 when it crawled fine but could not deliver; a manual
`alerts send` tries everything now, and its --dry-run lists every pending alert.
Real SMTP (tests/smtpserver.py) and webhook (tests/webhookserver.py) servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.webhookserver import WebhookServer
from wpwatch.demo.server import DemoSite

SLACK = """
[[alerts]]
name = "desk-slack"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"
"""



@pytest.fixture
def wpwatch(wpwatch_all_engines: WPWatch) -> WPWatch:
    """These tests run on SQLite and on PostgreSQL (tests/postgres.py)."""
    return wpwatch_all_engines


@pytest.fixture
def site() -> Iterator[tuple[DemoSite, FaultServer]]:
    demo = DemoSite("Ministry of Examples")
    for i in range(3):
        demo.add(f"Statement {i}", f"<p>The report on case {i} will be published.</p>",
                 date=f"2025-0{i + 1}-01T00:00:00Z")
    with FaultServer(demo) as srv:
        yield demo, srv


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)


def configure(wpwatch: WPWatch, url: str, smtp: SMTPServer, tls_cert: Any,
              slack: bool = False) -> None:
    wpwatch.config.write_text(f'[[sites]]\nname = "ministry"\nurl = "{url}"\n'
                              + email_alert_toml(smtp, tls_cert.cert) + (SLACK if slack else ""))


def test_a_missing_secret_stops_crawl_before_any_request(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
    tls_cert: Any, smtp_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, srv = site
    monkeypatch.delenv("WPWATCH_TEST_SLACK_URL", raising=False)
    configure(wpwatch, srv.url, smtp_server, tls_cert, slack=True)
    proc = wpwatch.run("crawl", check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        ("wpwatch: alerts.desk-slack.webhook_url refers to environment variable "
         "WPWATCH_TEST_SLACK_URL, which is not set")
    ]
    assert srv.requests == []  # nothing crawled
    assert wpwatch.json("status", "--json")[0]["last_round"] is None


def test_a_failing_slack_never_holds_back_the_email(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
    webhook_server: WebhookServer, tls_cert: Any, smtp_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    demo, srv = site
    monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)
    configure(wpwatch, srv.url, smtp_server, tls_cert, slack=True)
    wpwatch.run("crawl")  # the baseline
    webhook_server.answer(500, b"server_error")
    demo.edit(demo.ids("post", "publish")[0], title="Statement 0, softened")
    proc = wpwatch.run("crawl", check=False)
    assert proc.returncode == 3, proc.stderr
    assert smtp_server.wait_message().message()["Subject"].startswith("[wpwatch] edited:")
    assert len(webhook_server.posts) == 1
    assert "Traceback" not in proc.stderr
    failures = [ln for ln in proc.stderr.splitlines() if "desk-slack" in ln]
    assert failures == [
        ("wpwatch: alert not delivered: desk-slack: the Slack webhook of alerts.desk-slack "
         "(host 127.0.0.1) answered HTTP 500 server_error (queued: `wpwatch alerts pending`)")
    ]
    assert "alerts: 1 message(s) sent, 1 failed" in proc.stdout
    (status,) = wpwatch.json("status", "--json")
    assert status["pending_alerts"] == 1
    assert list(status["alert_errors"]) == ["desk-slack"]
    assert "answered HTTP 500" in status["alert_errors"]["desk-slack"]["error"]
    assert "desk-slack: 1 pending, failing: " in wpwatch.run("status").stdout
    pending = wpwatch.run("alerts", "pending").stdout
    assert pending.splitlines()[0].startswith("desk-slack: 1 pending; last error: the Slack "
                                              "webhook of alerts.desk-slack")
    for out in (proc.stdout + proc.stderr, pending, str(status)):
        assert webhook_server.SECRET_PATH not in out and SMTPServer.PASSWORD not in out
    assert (
        "3  crawled, but some alerts could not be delivered"
        in wpwatch.run("crawl", "--help").stdout
    )


def test_alerts_send_tries_everything_now_and_dry_run_lists_backoff(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
    tls_cert: Any, smtp_env: None,
) -> None:
    demo, srv = site
    configure(wpwatch, srv.url, smtp_server, tls_cert)
    wpwatch.run("crawl")
    smtp_server.stop()
    demo.edit(demo.ids("post", "publish")[1], title="Statement 1, withdrawn")
    proc = wpwatch.run("crawl", check=False)
    assert proc.returncode == 3, proc.stderr
    assert "alert not delivered: desk-email: cannot reach the SMTP server" in proc.stderr
    dry = wpwatch.run("alerts", "send", "--dry-run").stdout
    (line,) = [ln for ln in dry.splitlines() if ln.startswith("would send")]
    assert "email alerts.desk-email: to desk@example.org" in line
    assert "[wpwatch] edited: ministry — Statement 1, withdrawn" in line
    assert "in backoff, next automatic attempt 20" in line and "connection refused" in line
    assert SMTPServer.PASSWORD not in dry
    assert smtp_server.messages == []
    smtp_server.start()
    out = wpwatch.run("alerts", "send").stdout  # no waiting for the backoff to end
    assert "sent 1 message(s) for 1 alert(s); 0 failed" in out
    assert smtp_server.wait_message().message()["Subject"].startswith("[wpwatch] edited:")
    assert wpwatch.json("alerts", "pending", "--json") == []
