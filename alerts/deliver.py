"""Delivering what the outbox holds: grouped by digest, retried with backoff, marked sent.

A group is marked sent in one transaction right after its channel accepted
it. The only window for a duplicate is between the server's acceptance and
that commit (one SQLite commit, milliseconds): a process killed exactly
there sends that message again on the next run. Anything else (a server
down, a 429, a crash before sending) leaves the alerts pending for the next
attempt, with exponential backoff.

Each channel succeeds or fails on its own: a channel that cannot be built, a
message that cannot be rendered or a server that refuses is one line in the
report (stored as the alerts' ``last_error``), and the other channels go on.
Automatic runs (``crawl``, the daemon) respect the backoff; a manual
``wpwatch alerts send`` passes ``ignore_backoff`` and tries everything now.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from archive import Archive
from archive import schema as s
from core.exceptions import DeliveryError
from core.values import iso_utc

logger = logging.getLogger("wpwatch.alerts.deliver")

BACKOFF_FIRST = 30.0  # seconds
BACKOFF_MAX = 3600.0
FAILURES_BEFORE_SKIPPING = 2  # a channel failing this many times in a row is left for later


@dataclass
class Group:
    channel: str
    digest: str
    alert_ids: list[int]
    change_ids: list[int]
    keywords: dict[int, tuple[str, ...]]
    attempts: int
    next_attempt_at: str = ""  # the latest of its alerts'
    last_error: str | None = None
    event_ids: list[int] = field(default_factory=list)  # watch-health events
    burst: bool = False  # immediate alerts grouped: many changes of one kind at once
    kinds: list[str] = field(default_factory=list)  # of its changes, in order


@dataclass
class DeliveryReport:
    sent: int = 0  # messages
    alerts_sent: int = 0
    failed: list[str] = field(default_factory=list)  # "route: reason", one per message
    would_send: list[str] = field(default_factory=list)  # --dry-run: what goes now
    waiting: list[str] = field(default_factory=list)  # --dry-run: pending, not going now
    not_tried: int = 0  # messages of a channel that had already failed in this pass


def when(stamp: str) -> str:
    """An ISO-UTC stamp as shown to users: to the second."""
    return stamp[:19].replace("T", " ") + "Z"


def due_groups(
    archive: Archive, now: datetime | None = None, *, ignore_backoff: bool = False,
    bursts: Mapping[str, tuple[int, float]] | None = None,
) -> list[Group]:
    """Pending alerts that may go now, grouped into messages.

    immediate: one message per change or health event; round: one per channel and round,
    once the round has ended; daily: one per channel and digest time. ``bursts``
    (route name → threshold, window in seconds): immediate alerts of one kind, more than
    the threshold counting those the route sent within the window, go as one message.
    """
    now = now or datetime.now(UTC)
    now_s = iso_utc(now)
    a, r, c = s.alerts.c, s.rounds.c, s.changes.c
    q = (
        select(a.id, a.channel, a.digest, a.change_id, a.event_id, a.round_id, a.due_at,
               a.keywords, a.attempts, a.next_attempt_at, a.last_error, c.kind)
        .outerjoin(s.rounds, r.id == a.round_id)
        .outerjoin(s.changes, c.id == a.change_id)
        .where(
            a.status == "pending",
            a.due_at <= now_s,
            or_(a.digest != "round", a.round_id.is_(None), r.outcome != "running"),
        )
        .order_by(a.id)
    )
    if not ignore_backoff:
        q = q.where(a.next_attempt_at <= now_s)
    groups: dict[tuple[str, str, Any], Group] = {}
    with archive.engine.connect() as conn:
        rows = conn.execute(q).all()
        burst_keys = _burst_keys(conn, rows, bursts or {}, now)
        for row in rows:
            key: Any = {"immediate": row.id, "round": row.round_id, "daily": row.due_at}[row.digest]
            key = burst_keys.get(row.id, key)
            g = groups.setdefault((row.channel, row.digest, key),
                                  Group(row.channel, row.digest, [], [], {}, row.attempts))
            g.alert_ids.append(row.id)
            g.burst = row.id in burst_keys
            if row.event_id is not None:
                g.event_ids.append(row.event_id)
            else:
                g.change_ids.append(row.change_id)
                g.kinds.append(row.kind)
                g.keywords[row.change_id] = tuple(json.loads(row.keywords or "[]"))
            g.attempts = max(g.attempts, row.attempts)
            g.next_attempt_at = max(g.next_attempt_at, row.next_attempt_at)
            g.last_error = row.last_error or g.last_error
    return list(groups.values())


def _burst_keys(conn: Any, rows: Sequence[Any], bursts: Mapping[str, tuple[int, float]],
                now: datetime) -> dict[int, tuple[str, str]]:
    """alert id → its burst's group key, for immediate change alerts that form a burst.

    A burst: more than the route's threshold of one kind, counting the pending ones due
    now and those the route sent within its window (a site that unpublishes a few posts
    every round for an hour gets one grouped message once the count passes the threshold).
    """
    pending: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        if row.digest == "immediate" and row.change_id is not None and row.channel in bursts:
            pending.setdefault((row.channel, row.kind), []).append(row.id)
    out: dict[int, tuple[str, str]] = {}
    a, c = s.alerts.c, s.changes.c
    for (channel, kind), ids in pending.items():
        threshold, window = bursts[channel]
        count = len(ids)
        if count <= threshold:
            count += conn.execute(
                select(func.count()).select_from(s.alerts)
                .join(s.changes, c.id == a.change_id)
                .where(a.channel == channel, a.status == "sent", a.digest == "immediate",
                       c.kind == kind, a.sent_at >= iso_utc(now - timedelta(seconds=window)))
            ).scalar_one()
        if count > threshold and len(ids) > 1:
            out |= {i: ("burst", kind) for i in ids}
    return out


def pending(archive: Archive) -> list[dict[str, Any]]:
    """Every alert not yet delivered, oldest first (for `wpwatch alerts pending`)."""
    a, c, p, st, e = s.alerts.c, s.changes.c, s.posts.c, s.sites.c, s.health_events.c
    q = (
        select(a.id, a.channel, a.digest, a.due_at, a.attempts, a.next_attempt_at, a.last_error,
               a.change_id, a.event_id, func.coalesce(c.kind, e.kind).label("kind"), p.type,
               p.wp_id, p.title, st.url.label("site"))
        .outerjoin(s.changes, c.id == a.change_id)
        .outerjoin(s.posts, p.id == c.post_id)
        .outerjoin(s.health_events, e.id == a.event_id)
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


def route_states(archive: Archive, site_id: int | None = None) -> dict[str, dict[str, Any]]:
    """Route name → its pending alerts and latest failure (for `status`, `alerts pending`).

    ``{"pending": 3, "failing": 2, "last_error": "...", "next_attempt_at": "..."}``;
    the error is the one of the alert retried last (the latest next attempt).
    ``site_id``: only the alerts of that site.
    """
    a = s.alerts.c
    q = (
        select(a.channel, a.last_error, a.next_attempt_at)
        .where(a.status == "pending")
        .order_by(a.next_attempt_at, a.id)
    )
    if site_id is not None:
        q = q.where(a.site_id == site_id)
    states: dict[str, dict[str, Any]] = {}
    with archive.engine.connect() as conn:
        for row in conn.execute(q):
            st = states.setdefault(row.channel, {"pending": 0, "failing": 0, "last_error": None,
                                                 "next_attempt_at": None})
            st["pending"] += 1
            if row.last_error:
                st["failing"] += 1
                st["last_error"] = row.last_error
                st["next_attempt_at"] = row.next_attempt_at
    return states


def deliver(
    archive: Archive,
    channels: Mapping[str, Any],
    build: Callable[[Group], Any],
    *,
    broken: Mapping[str, str] | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    ignore_backoff: bool = False,
    bursts: Mapping[str, tuple[int, float]] | None = None,
) -> DeliveryReport:
    """Send every due group through its channel; mark sent, or schedule a retry.

    ``channels``: route name → channel; ``broken``: route name → why its channel
    could not be built (its alerts fail with that reason, the others go on).
    Alerts of a route no longer in the config are left pending and untried.
    """
    report = DeliveryReport()
    now = now or datetime.now(UTC)
    broken = broken or {}
    failures_in_a_row: dict[str, int] = {}
    groups = due_groups(archive, now, ignore_backoff=ignore_backoff, bursts=bursts)
    for group in groups:
        name = group.channel
        if name not in channels and name not in broken:
            continue  # the route was removed from the config: `alerts pending` shows them
        if failures_in_a_row.get(name, 0) >= FAILURES_BEFORE_SKIPPING:
            report.not_tried += 1
            continue
        channel = channels.get(name)
        if dry_run:
            report.would_send.append(_dry_run_line(group, channel, broken.get(name), now,
                                                   build))
            continue
        try:
            if channel is None:
                raise DeliveryError(broken[name])
            channel.send(build(group))
        except Exception as exc:  # one channel's failure never stops the others
            reason = _reason(exc)
            if not isinstance(exc, DeliveryError):  # a bug: where it happened, under -v
                logger.debug("alerts: %s not delivered", name, exc_info=True)
            _retry(archive, group, now, reason, getattr(exc, "retry_after", None))
            report.failed.append(f"{name}: {reason}")
            failures_in_a_row[name] = failures_in_a_row.get(name, 0) + 1
            continue
        failures_in_a_row[name] = 0
        _mark_sent(archive, group, now)
        report.sent += 1
        report.alerts_sent += len(group.alert_ids)
    if dry_run:
        report.waiting = _waiting(archive, groups, channels, broken, now)
    return report


def _reason(exc: BaseException) -> str:
    """One line: a DeliveryError says it all; anything else is a bug, named by its type."""
    if isinstance(exc, DeliveryError):
        return str(exc)
    text = " ".join(str(exc).split())[:200]
    return f"unexpected {type(exc).__name__}" + (f": {text}" if text else "") + (
        " (a wpwatch bug: please report it; `wpwatch -v` shows where)")


def _dry_run_line(group: Group, channel: Any, broken: str | None, now: datetime,
                  build: Callable[[Group], Any]) -> str:
    ids = ", ".join(f"#{i}" for i in group.alert_ids)
    retry = ""
    if group.last_error:
        retry = f"; failed {group.attempts}x, last error: {group.last_error}"
    if group.next_attempt_at > iso_utc(now):
        retry += f"; in backoff, next automatic attempt {when(group.next_attempt_at)}"
    if channel is None:
        return f"{group.channel}: cannot send (alerts {ids}): {broken}{retry}"
    try:
        what = _subject(build(group))
    except Exception as exc:  # shown, as delivery would fail the same way
        what = f"(message cannot be built: {_reason(exc)})"
    return f"{channel.describe()}: {what} (alerts {ids}{retry})"


def _waiting(archive: Archive, groups: list[Group], channels: Mapping[str, Any],
             broken: Mapping[str, str], now: datetime) -> list[str]:
    """Every pending alert that is not going now, and why."""
    going = {i for g in groups if g.channel in channels or g.channel in broken
             for i in g.alert_ids}
    now_s = iso_utc(now)
    lines = []
    for row in pending(archive):
        if row["id"] in going:
            continue
        if row["channel"] not in channels and row["channel"] not in broken:
            why = "its route is no longer in the config"
        elif row["due_at"] > now_s:
            why = f"{row['digest']} digest due {when(row['due_at'])}"
        elif row["next_attempt_at"] > now_s:
            why = f"in backoff, next automatic attempt {when(row['next_attempt_at'])}"
        else:
            why = "its round is still running"
        last = f"; last error: {row['last_error']}" if row["last_error"] else ""
        what = (f"change #{row['change_id']} {row['kind']} {row['site']} "
                f"{row['type']}/{row['wp_id']}" if row["change_id"] is not None
                else f"{row['kind']} {row['site']}")
        lines.append(f"alert #{row['id']} → {row['channel']}: {what}: {why}{last}")
    return lines


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
