"""Bursts: many changes of one kind at once go to an immediate route as one message.

Two sites behind the fault-injection server (answering as WordPress does), 20 posts each
unpublished between two rounds of one real `wpwatch crawl`: each route (real SMTP, real
webhook) gets one message that counts them and lists them, within Slack's limits (at most
50 blocks, 3,000 characters a section), instead of 40 messages. A few changes stay
single messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from alerts.message import AlertItem, Message, burst_line
from alerts.slack_message import slack_payload
from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.test_fault_matrix import fast_settings  # noqa: F401 (fixture)
from tests.webhookserver import WebhookServer, block_kit_problems
from wpwatch.demo.server import DemoSite

PER_SITE = 20


@pytest.fixture
def two_sites() -> Iterator[list[tuple[DemoSite, FaultServer]]]:
    sites = []
    for name in ("Ministry", "Agency"):
        demo = DemoSite(name)
        for i in range(PER_SITE + 2):
            demo.add(f"{name} statement {i}", f"<p>{name} statement {i}.</p>",
                     date="2025-01-01T00:00:00Z")
        sites.append(demo)
    with FaultServer(sites[0]) as a, FaultServer(sites[1]) as b:
        yield [(sites[0], a), (sites[1], b)]


def test_forty_unpublications_in_one_round_are_one_message_per_route(
    two_sites: list[tuple[DemoSite, FaultServer]], wpwatch: WPWatch, smtp_server: SMTPServer,
    webhook_server: WebhookServer, tls_cert: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)
    sites = "".join(f'\n[[sites]]\nname = "{d.name.lower()}"\nurl = "{s.url}"\n'
                    for d, s in two_sites)
    wpwatch.config.write_text(sites + email_alert_toml(smtp_server, str(tls_cert.cert)) + """
[[alerts]]
name = "desk-slack"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"
""")
    wpwatch.run("crawl")  # baseline
    gone: list[int] = []
    for demo, _ in two_sites:
        ids = demo.ids("post", "publish")
        for post_id in ids[:PER_SITE]:
            demo.unpublish(post_id)
        gone += ids[:PER_SITE]
    out = wpwatch.run("crawl").stdout
    assert "alerts: 2 message(s) sent, 0 failed" in out, out
    kinds = [c["kind"] for c in wpwatch.json("changes", "--json")]
    assert kinds == ["unpublished"] * 2 * PER_SITE

    (mail,) = [m.message() for m in smtp_server.messages]
    assert mail["Subject"] == "[wpwatch] 40 posts unpublished on 2 sites within 1 minute"
    text = mail.get_body(("plain",)).get_content()
    assert text.count("unpublished: ") == 40  # every post listed, one headline each
    assert "Ministry statement 0" in text and "Agency statement 19" in text

    (post,) = webhook_server.posts
    payload = post.json()
    assert block_kit_problems(payload) == []
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(s) <= 3000 for s in sections)
    assert blocks[0]["text"]["text"] == "40 posts unpublished on 2 sites within 1 minute"
    listed = "\n".join(sections)
    assert listed.count("• ") == 40

    # within the hour the burst goes on: two more unpublications are one more message
    demo = two_sites[0][0]
    for post_id in demo.ids("post", "publish")[:2]:
        demo.unpublish(post_id)
    wpwatch.run("crawl")
    assert len(smtp_server.messages) == 2 and len(webhook_server.posts) == 2
    assert smtp_server.messages[1].message()["Subject"] == (
        "[wpwatch] 2 posts unpublished on 1 site within 1 minute")
    print(mail["Subject"], len(blocks), "blocks")


def test_few_changes_stay_single_messages(
    two_sites: list[tuple[DemoSite, FaultServer]], wpwatch: WPWatch, smtp_server: SMTPServer,
    tls_cert: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    demo, srv = two_sites[0]
    wpwatch.config.write_text(f'[[sites]]\nname = "ministry"\nurl = "{srv.url}"\n'
                              + email_alert_toml(smtp_server, str(tls_cert.cert))
                              + "burst_threshold = 3\n")
    wpwatch.run("crawl")
    for post_id in demo.ids("post", "publish")[:3]:  # 3: not more than the threshold
        demo.unpublish(post_id)
    wpwatch.run("crawl")
    subjects = sorted(m.message()["Subject"] for m in smtp_server.messages)
    assert len(subjects) == 3
    assert all(s.startswith("[wpwatch] unpublished: ministry — ") for s in subjects)


def _item(n: int, title: str) -> AlertItem:
    return AlertItem(
        change_id=n, site=f"https://site{n % 3}.example.org", site_name=f"site {n % 3}",
        kind="deleted", type="posts", wp_id=n, title=title,
        url=f"https://site{n % 3}.example.org/?p={n}", detected_at="2026-03-01T10:00:00.000Z",
        fields=(), summary="deleted", removed=(), added=(), diff_text="", report_url=None,
    )


def test_a_huge_burst_stays_within_slacks_limits() -> None:
    items = tuple(_item(n, "<!channel> *" + "long title " * 30) for n in range(2000))
    msg = Message("desk-slack", "immediate", items, burst=burst_line(items))
    payload = slack_payload(msg)
    assert block_kit_problems(payload) == []
    assert len(payload["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if b["type"] == "section")
    assert "<!channel>" not in str(payload)
    note = payload["blocks"][-2]["elements"][0]["text"]
    assert note.startswith("… and ") and "more change" in note
    assert burst_line(items) == "2,000 posts deleted on 3 sites within 1 minute"
