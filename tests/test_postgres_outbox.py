"""Alerts across nodes: two delivery passes on one PostgreSQL outbox never send an alert twice.

Each pass is what one node's `wpwatch run` does (``alerts.service.deliver_due`` on an
``Archive`` of its own), in a thread of its own, against a real PostgreSQL server
(tests/postgres.py) and a real webhook server (tests/webhookserver.py) that holds its
first POST until the test lets it go. While the first pass is held mid-send with its
rows claimed, a second pass skips those rows without waiting, sends only what was queued
since, and a round digest goes out once, whole. A pass whose database session dies
mid-send gives its rows back: another node sends them (at least once, never lost).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from alerts.deliver import DeliveryReport
from alerts.service import deliver_due, install_outbox
from archive import Archive, PostRecord, schema
from core import config as cfg
from diffs.normalize import content_hash
from tests.postgres import PostgresServer, wait_for_lock_wait
from tests.test_archive import diff, resp
from tests.webhookserver import WebhookServer

SITE = "https://ministry.example.org"
WAIT = 30  # seconds: an upper bound on waiting for an event, never a pause


class HoldingWebhook(WebhookServer):
    """A Slack-like webhook that holds its first POST until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Event()  # the first POST has arrived and is being held
        self.release = threading.Event()
        self._first = threading.Lock()

    def _respond(self, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        if self._first.acquire(blocking=False):  # only the first POST ever waits
            self.held.set()
            if not self.release.wait(3 * WAIT):  # longer than any pass waits for another
                return 500, b"the test never released this POST", {}
        return super()._respond(body)

    def texts(self) -> list[str]:
        return [post.json()["text"] + str(post.json()["blocks"]) for post in self.posts]


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[HoldingWebhook]:
    with HoldingWebhook() as server:
        monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", server.url)
        yield server
        server.release.set()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def conf(tmp_path: Path, webhook: HoldingWebhook) -> cfg.Config:
    """Two Slack routes for every change: one message each, and one per round."""
    path = tmp_path / "wpwatch.toml"
    path.write_text(f"""
[[sites]]
name = "ministry"
url = "{SITE}"

[[alerts]]
name = "desk-now"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"

[[alerts]]
name = "desk-round"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"
digest = "round"
""")
    return cfg.load(path)


@dataclass
class Writer:
    """What the crawler's pipeline stores: rounds of the site, each change with its alerts."""

    archive: Archive
    site_id: int
    texts: dict[int, str] = field(default_factory=dict)

    def round(self, edits: dict[int, str], *, baseline: bool = False) -> None:
        round_id = self.archive.start_round(self.site_id, False)
        self.texts |= edits
        self.archive.record_posts(
            site_id=self.site_id, round_id=round_id, type_="posts", response=resp(),
            records=[_record(i, t) for i, t in self.texts.items()], baseline=baseline,
            compare=diff)
        self.archive.finish_round(round_id, outcome="ok", requests=1, bytes_=1, errors=0,
                                  error=None)


def _record(wp_id: int, title: str) -> PostRecord:
    norm = {"title": title, "text": [f"{title}."]}
    return PostRecord(wp_id, 0, norm, content_hash(norm), "2026-01-01T00:00:00",
                      "2025-01-01T00:00:00", f"{SITE}/?p={wp_id}", title, 1)


@pytest.fixture
def writer(pg_url: str, conf: cfg.Config) -> Iterator[Writer]:
    archive = Archive(pg_url)
    install_outbox(archive, conf)
    w = Writer(archive, archive.site(SITE, "ministry")["id"])
    w.round({1: "Statement one", 2: "Statement two", 3: "Statement three"}, baseline=True)
    yield w
    archive.close()


class Pass(threading.Thread):
    """One node's delivery pass, on an Archive (a connection pool) of its own."""

    def __init__(self, url: str, conf: cfg.Config) -> None:
        super().__init__(daemon=True)
        self.url, self.conf = url, conf
        self.report: DeliveryReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        archive = Archive(self.url)
        try:
            self.report = deliver_due(archive, self.conf)
        except BaseException as exc:  # handed to the test, which asserts on it
            self.error = exc
        finally:
            archive.close()

    def finished(self) -> DeliveryReport:
        self.join(WAIT)
        assert not self.is_alive(), "the delivery pass did not finish"
        assert self.error is None, repr(self.error)
        assert self.report is not None
        return self.report


def alert_rows(archive: Archive) -> Sequence[Any]:
    a = schema.alerts.c
    with archive.engine.connect() as conn:
        return conn.execute(select(a.id, a.channel, a.status).order_by(a.id)).all()


def held_pass(url: str, conf: cfg.Config, webhook: HoldingWebhook) -> Pass:
    first = Pass(url, conf)
    first.start()
    assert webhook.held.wait(WAIT), "the first pass never sent anything"
    return first


def count(texts: list[str], title: str) -> int:
    return sum(title in t for t in texts)


def test_two_nodes_never_send_one_alert_twice_and_a_digest_goes_once(
    writer: Writer, pg_url: str, conf: cfg.Config, webhook: HoldingWebhook,
) -> None:
    writer.round({1: "Statement one, softened", 2: "Statement two, withdrawn"})
    assert [r.channel for r in alert_rows(writer.archive)] == ["desk-now", "desk-round"] * 2

    first = held_pass(pg_url, conf, webhook)  # its rows claimed, its first message held
    writer.round({3: "Statement three, backdated"})  # queued while the first is sending
    second = Pass(pg_url, conf)
    second.start()
    report = second.finished()  # it never waits for the rows the first one holds
    assert first.is_alive() and not webhook.release.is_set()
    assert (report.sent, report.alerts_sent, report.failed) == (2, 2, [])
    late = webhook.texts()[1:]  # the first POST is still held; these are the second's
    assert all("Statement three, backdated" in t for t in late)
    assert not any("softened" in t or "withdrawn" in t for t in late)

    webhook.release.set()
    report = first.finished()
    assert (report.sent, report.alerts_sent, report.failed) == (3, 4, [])
    texts = webhook.texts()
    assert len(texts) == 5
    for title in ("Statement one, softened", "Statement two, withdrawn",
                  "Statement three, backdated"):
        assert count(texts, title) == 2, title  # once alone, once in its round's digest
    (digest,) = [t for t in texts if "softened" in t and "withdrawn" in t]
    assert "Statement three" not in digest  # the round digest went whole, once
    assert {r.status for r in alert_rows(writer.archive)} == {"sent"}
    again = Pass(pg_url, conf)
    again.start()
    assert again.finished().sent == 0
    assert len(webhook.posts) == 5


def test_a_node_that_dies_mid_send_gives_its_alerts_to_another(
    writer: Writer, pg_url: str, conf: cfg.Config, webhook: HoldingWebhook,
    postgres_server: PostgresServer,
) -> None:
    """At least once: the dead node's message may have gone; none of its alerts is lost."""
    writer.round({1: "Statement one, softened", 2: "Statement two, withdrawn"})
    first = held_pass(pg_url, conf, webhook)
    with writer.archive.engine.connect() as conn:  # the database loses the first node
        killed = conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND state = 'idle in transaction'"
        )).scalars().all()
    assert killed == [True]
    other = Pass(pg_url, conf)
    other.start()
    report = other.finished()
    assert (report.sent, report.alerts_sent) == (3, 4)  # all of them, the held one too
    assert {r.status for r in alert_rows(writer.archive)} == {"sent"}

    webhook.release.set()
    first.join(WAIT)
    assert not first.is_alive()
    assert first.error is not None and first.report is None  # it could not mark them sent
    texts = webhook.texts()
    assert len(texts) == 4  # three messages, and the one the dead node got out first
    assert texts[0] in texts[1:]  # that one (change 1 on its own) went twice
    assert count(texts, "Statement one, softened") == 3
    assert count(texts, "Statement two, withdrawn") == 2


def test_claims_take_turns_so_a_digest_is_never_split(
    writer: Writer, pg_url: str, conf: cfg.Config, webhook: HoldingWebhook,
) -> None:
    """While another pass claims (the claim lock held), a pass waits for its turn only."""
    from alerts.deliver import CLAIM_LOCK

    webhook.release.set()  # nothing held in this test
    writer.round({1: "Statement one, softened", 2: "Statement two, withdrawn"})
    with writer.archive.engine.connect() as conn:
        conn.execute(select(text(f"pg_advisory_lock({CLAIM_LOCK})")))
        waiting = Pass(pg_url, conf)
        waiting.start()
        wait_for_lock_wait(writer.archive.engine, "the pass to wait for the claim lock",
                           advisory=True, timeout=WAIT)
        assert waiting.is_alive() and webhook.posts == []
        conn.execute(select(text(f"pg_advisory_unlock({CLAIM_LOCK})")))
        report = waiting.finished()
    assert (report.sent, report.alerts_sent) == (3, 4)


