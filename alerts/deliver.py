"""Delivering what the outbox holds: grouped by digest, retried with backoff, marked sent.

A group is marked sent in one transaction right after its channel accepted
it. The only window for a duplicate is between the server's acceptance and
that commit (one SQLite commit, milliseconds): a process killed exactly
there sends that message again on the next run. Anything else (a server
down, a 429, a crash before sending) leaves the alerts pending for the next
attempt, with exponential backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from archive import Archive
from archive import schema as s
from wpwatch.values import iso_utc

logger = logging.getLogger(__name__)

BACKOFF_FIRST = 30.0  # seconds
BACKOFF_MAX = 3600.0


@dataclass
class Group:
    channel: str
    digest: str
    alert_ids: list[int]
    change_ids: list[int]
    keywords: dict[int, tuple[str, ...]]
    attempts: int


@dataclass
class DeliveryReport:
    sent: int = 0  # messages
    alerts_sent: int = 0
    failed: list[str] = field(default_factory=list)
    would_send: list[str] = field(default_factory=list)


def due_groups(
    archive: Archive, now: datetime | None = None, *, ignore_backoff: bool = False
) -> list[Group]:
    """Pending alerts that may go now, grouped into messages.

    immediate: one message per change; round: one per channel and round, once
    the round has ended; daily: one per channel and digest time.
    """
    now_s = iso_utc(now or datetime.now(UTC))
    a, r = s.alerts.c, s.rounds.c
    q = (
        select(a.id, a.channel, a.digest, a.change_id, a.round_id, a.due_at, a.keywords,
               a.attempts)
        .outerjoin(s.rounds, r.id == a.round_id)
        .where(
            a.status == "pending",
            or_(a.next_attempt_at <= now_s, ignore_backoff),
            a.due_at <= now_s,
            or_(a.digest != "round", a.round_id.is_(None), r.outcome != "running"),
        )
        .order_by(a.id)
    )
    groups: dict[tuple[str, str, Any], Group] = {}
    with archive.engine.connect() as conn:
        for row in conn.execute(q):
            key: Any = {"immediate": row.id, "round": row.round_id, "daily": row.due_at}[row.digest]
            g = groups.setdefault((row.channel, row.digest, key),
                                  Group(row.channel, row.digest, [], [], {}, row.attempts))
            g.alert_ids.append(row.id)
            g.change_ids.append(row.change_id)
            g.keywords[row.change_id] = tuple(json.loads(row.keywords or "[]"))
            g.attempts = max(g.attempts, row.attempts)
    return list(groups.values())


def pending(archive: Archive) -> list[dict[str, Any]]:
    """Every alert not yet delivered, oldest first (for `wpwatch alerts pending`)."""
    a, c, p, st = s.alerts.c, s.changes.c, s.posts.c, s.sites.c
    q = (
        select(a.id, a.channel, a.digest, a.due_at, a.attempts, a.next_attempt_at, a.last_error,
               a.change_id, c.kind, p.type, p.wp_id, p.title, st.url.label("site"))
        .join(s.changes, c.id == a.change_id)
        .join(s.posts, p.id == c.post_id)
        .join(s.sites, st.id == a.site_id)
        .where(a.status == "pending")
        .order_by(a.id)
    )
    with archive.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def pending_counts(archive: Archive) -> dict[int, int]:
    """site id → alerts waiting (for `wpwatch status`)."""
    a = s.alerts.c
    with archive.engine.connect() as conn:
        rows = conn.execute(
            select(a.site_id, func.count()).where(a.status == "pending").group_by(a.site_id)
        )
        return {site_id: n for site_id, n in rows}


def deliver(
    archive: Archive,
    channels: Mapping[str, Any],
    build: Callable[[Group], Any],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    ignore_backoff: bool = False,
) -> DeliveryReport:
    """Send every due group through its channel; mark sent, or schedule a retry."""
    from alerts.exceptions import DeliveryError

    report = DeliveryReport()
    now = now or datetime.now(UTC)
    for group in due_groups(archive, now, ignore_backoff=ignore_backoff):
        channel = channels.get(group.channel)
        if channel is None:
            _retry(archive, group, now, f"no channel named {group.channel!r} in the config")
            report.failed.append(f"{group.channel}: not configured")
            continue
        message = build(group)
        if dry_run:
            report.would_send.append(f"{channel.describe()}: {_subject(message)}")
            continue
        try:
            channel.send(message)
        except DeliveryError as exc:
            delay = getattr(exc, "retry_after", None)
            _retry(archive, group, now, str(exc), delay)
            report.failed.append(f"{group.channel}: {exc}")
            logger.warning("alerts: %s: %s (will retry)", group.channel, exc)
            continue
        _mark_sent(archive, group, now)
        report.sent += 1
        report.alerts_sent += len(group.alert_ids)
    return report


def _subject(message: Any) -> str:
    from alerts.message import subject

    return subject(message)


def _mark_sent(archive: Archive, group: Group, now: datetime) -> None:
    a = s.alerts.c
    with archive.engine.begin() as conn:
        conn.execute(
            update(s.alerts)
            .where(a.id.in_(group.alert_ids))
            .values(status="sent", sent_at=iso_utc(now), attempts=a.attempts + 1, last_error=None)
        )


def _retry(archive: Archive, group: Group, now: datetime, error: str,
           retry_after: float | None = None) -> None:
    delay = min(BACKOFF_FIRST * (2 ** group.attempts), BACKOFF_MAX)
    if retry_after:
        delay = max(delay, min(retry_after, BACKOFF_MAX))
    a = s.alerts.c
    with archive.engine.begin() as conn:
        conn.execute(
            update(s.alerts)
            .where(and_(a.id.in_(group.alert_ids), a.status == "pending"))
            .values(attempts=a.attempts + 1, last_error=error[:500],
                    next_attempt_at=iso_utc(now + timedelta(seconds=delay)))
        )
