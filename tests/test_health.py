"""Watch health: a site that cannot be watched is told once, and so is its recovery.

The real `wpwatch crawl` against a site behind the fault-injection server, with real SMTP
and webhook servers: three rounds of a refused connection give one site-failing email and
one Slack message (not one per round), the round after the site answers again gives one
site-recovered, `wpwatch coverage` shows the gap, and a REST API closed for two rounds
gives one site-degraded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.health import Decision, Thresholds, decide
from core.values import iso_utc
from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.test_fault_matrix import fast_settings  # noqa: F401 (fixture)
from tests.webhookserver import WebhookServer, block_kit_problems
from wpwatch.demo.server import DemoSite


@pytest.fixture
def site() -> Iterator[tuple[DemoSite, FaultServer]]:
    demo = DemoSite("Ministry of Examples")
    for i in range(3):
        demo.add(f"Statement {i}", f"<p>Statement {i}.</p>", date=f"2025-0{i + 1}-01T00:00:00Z")
    with FaultServer(demo) as srv:
        yield demo, srv


@pytest.fixture
def watched(site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
            webhook_server: WebhookServer, tls_cert: Any,
            monkeypatch: pytest.MonkeyPatch) -> WPWatch:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)
    wpwatch.config.write_text(f"""
[[sites]]
name = "ministry"
url = "{site[1].url}"
{email_alert_toml(smtp_server, str(tls_cert.cert))}
[[alerts]]
name = "desk-slack"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"
kinds = ["site-failing", "site-degraded", "site-recovered"]
""")
    return wpwatch


def crawl(wpwatch: WPWatch) -> None:
    proc = wpwatch.run("crawl", check=False, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def subjects(smtp: SMTPServer) -> list[str]:
    return [m.message()["Subject"] for m in smtp.messages]


def slack_headers(webhook: WebhookServer) -> list[str]:
    out = []
    for post in webhook.posts:
        payload = post.json()
        assert block_kit_problems(payload) == []
        out.append(payload["blocks"][0]["text"]["text"])
    return out


def test_down_three_rounds_alerts_once_then_recovers_once(
    site: tuple[DemoSite, FaultServer], watched: WPWatch, smtp_server: SMTPServer,
    webhook_server: WebhookServer,
) -> None:
    _demo, srv = site
    crawl(watched)  # baseline
    srv.refuse()
    for _ in range(2):
        crawl(watched)
    assert subjects(smtp_server) == [] and webhook_server.posts == []  # 2 < failing_after
    crawl(watched)
    (failing,) = subjects(smtp_server)
    assert failing.startswith("[wpwatch] site-failing: ministry — could not be watched since")
    assert "(3 failed rounds in a row)" in failing
    body = smtp_server.messages[0].message().get_body(("plain",)).get_content()
    assert "connection refused" in body.lower() and f"wpwatch coverage {srv.url}" in body
    (header,) = slack_headers(webhook_server)
    assert header.startswith("site-failing: ministry")
    crawl(watched)  # still down: the episode goes on, nothing repeated
    crawl(watched)
    assert len(smtp_server.messages) == 1 and len(webhook_server.posts) == 1
    (status,) = watched.json("status", "--json")
    assert status["errors_in_a_row"] == 5

    srv.listen()
    crawl(watched)
    assert len(smtp_server.messages) == 2 and len(webhook_server.posts) == 2
    recovered = subjects(smtp_server)[1]
    assert recovered.startswith("[wpwatch] site-recovered: ministry — watched again (it was "
                                "failing since")
    assert slack_headers(webhook_server)[1].startswith("site-recovered: ministry")
    crawl(watched)
    assert len(smtp_server.messages) == 2 and len(webhook_server.posts) == 2

    (cov,) = watched.json("coverage", "ministry", "--json")
    assert cov["rounds"] == 8
    assert [c["rounds"] for c in cov["covered"]] == [1, 2]
    (gap,) = cov["gaps"]
    assert gap["from"] == cov["covered"][0]["to"] and gap["to"] == cov["covered"][1]["from"]
    assert gap["why"].startswith("5 failed rounds: ") and "refused" in gap["why"]
    assert len(gap["rounds"]) == 5
    text = watched.run("coverage").stdout
    assert "GAP" in text and "5 failed rounds" in text
    print(text)


def test_degraded_episode_alerts_once(
    site: tuple[DemoSite, FaultServer], watched: WPWatch, smtp_server: SMTPServer,
    webhook_server: WebhookServer,
) -> None:
    demo, _srv = site
    crawl(watched)
    demo.rest_mode = "disabled"
    crawl(watched)
    crawl(watched)
    (degraded,) = subjects(smtp_server)
    assert degraded.startswith("[wpwatch] site-degraded: ministry — REST API closed")
    text = smtp_server.messages[0].message().get_body(("plain",)).get_content()
    assert "401 rest_cannot_access" in text
    assert len(webhook_server.posts) == 1
    demo.rest_mode = "open"
    crawl(watched)
    assert subjects(smtp_server)[1].startswith("[wpwatch] site-recovered: ministry — watched "
                                               "again (it was degraded since")
    (cov,) = watched.json("coverage", "--json")
    (gap,) = cov["gaps"]
    assert gap["why"].startswith("2 degraded rounds: REST API is closed")


def _rounds(*outcomes: str, start: datetime, every: timedelta) -> list[dict[str, Any]]:
    """Rounds newest first, as the archive gives them."""
    out = [{"id": i + 1, "outcome": o, "started_at": iso_utc(start + i * every), "error": o}
           for i, o in enumerate(outcomes)]
    return out[::-1]


def test_decide_counts_rounds_or_time_and_ignores_interruptions() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    limits = Thresholds(failing_after=3, failing_for=3600)
    quick = timedelta(minutes=5)
    two = _rounds("ok", "failed", "failed", start=t0, every=quick)
    assert decide("healthy", two, limits, t0 + 3 * quick) is None
    assert decide("healthy", two, limits, t0 + 15 * quick).kind == "site-failing"  # 1h on
    three = _rounds("ok", "failed", "failed", "interrupted", "failed", start=t0, every=quick)
    d = decide("healthy", three, limits, t0 + 5 * quick)
    assert d == Decision("site-failing", "failing", iso_utc(t0 + quick), 3, "failed")
    assert decide("failing", three, limits, t0 + 5 * quick) is None  # once per episode
    slow = _rounds("ok", "failed", "failed", start=t0, every=timedelta(hours=2))
    assert decide("healthy", slow, limits, t0 + timedelta(hours=4)).kind == "site-failing"
    back = _rounds("failed", "failed", "failed", "ok", start=t0, every=quick)
    assert decide("failing", back, limits, t0, "2026-03-01T00:00:00.000Z").kind == (
        "site-recovered")
    assert decide("healthy", back, limits, t0) is None  # never alerted: nothing to end


def test_daily_digest_opens_with_the_health_line(
    site: tuple[DemoSite, FaultServer], wpwatch: WPWatch, smtp_server: SMTPServer,
    tls_cert: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alerts.service import deliver_due
    from archive import Archive
    from core import config as cfg

    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    _demo, srv = site
    wpwatch.config.write_text(f'[[sites]]\nname = "ministry"\nurl = "{srv.url}"\n'
                              '[defaults]\nfailing_after = 2\n'
                              + email_alert_toml(smtp_server, str(tls_cert.cert))
                              + 'digest = "daily"\n')
    crawl(wpwatch)
    srv.refuse()
    crawl(wpwatch)
    crawl(wpwatch)
    assert smtp_server.messages == []  # waits for the digest
    archive = Archive(str(wpwatch.db))
    try:
        sent = deliver_due(archive, cfg.load(wpwatch.config),
                           now=datetime.now(UTC) + timedelta(days=1, minutes=1))
    finally:
        archive.close()
    assert sent.sent == 1 and sent.failed == []
    (mail,) = [m.message() for m in smtp_server.messages]
    assert mail["Subject"] == "[wpwatch] 1 health notice (daily digest)"
    text = mail.get_body(("plain",)).get_content()
    assert text.splitlines()[0] == "1 site watched: 0 healthy, 1 failing, 0 degraded"
    assert "site-failing: ministry — could not be watched since" in text
    assert "(2 failed rounds in a row)" in text
