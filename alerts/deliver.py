"""Delivering what the outbox holds: grouped by digest, retried with backoff, marked sent.

On SQLite (one machine, one writer) a group is marked sent in one transaction
right after its channel accepted it. The only window for a duplicate is
between the server's acceptance and that commit (one SQLite commit,
milliseconds): a process killed exactly there sends that message again on
the next run. Anything else (a server down, a 429, a crash before sending)
leaves the alerts pending for the next attempt, with exponential backoff.

On PostgreSQL several nodes deliver from one outbox, and a pass *claims* its
rows: see :func:`deliver`. Delivery is at least once there too, with a wider
window: a node that dies mid-pass sends again, later, every message of that
pass.

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

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.engine import Connection

from archive import Archive
from archive import schema as s
from core.exceptions import DeliveryError
from core.values import iso_utc

logger = logging.getLogger("wpwatch.alerts.deliver")

BACKOFF_FIRST = 30.0  # seconds
BACKOFF_MAX = 3600.0
FAILURES_BEFORE_SKIPPING = 2  # a channel failing this many times in a row is left for later
#: The PostgreSQL advisory lock key that makes delivery passes claim in turn ("wpwo").
CLAIM_LOCK = 0x7770776F


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
    bursts: Mapping[str, tuple[int, float]] | None = None, claim: Connection | None = None,
) -> list[Group]:
    """Pending alerts that may go now, grouped into messages.

    immediate: one message per change or health event; round: one per channel and round,
    once the round has ended; daily: one per channel and digest time. ``bursts``
    (route name → threshold, window in seconds): immediate alerts of one kind, more than
    the threshold counting those the route sent within the window, go as one message.

    ``claim``: a PostgreSQL connection inside the pass's transaction; the rows are then
    locked on it (``FOR UPDATE SKIP LOCKED``) and rows another pass holds are left out
    (see :func:`deliver`). Without it the rows are only read.
    """
    now = now or datetime.now(UTC)
    q = _due_query(iso_utc(now), ignore_backoff)
    if claim is None:
        with archive.engine.connect() as conn:
            rows = conn.execute(q).all()
            return _grouped(conn, rows, bursts or {}, now)
    return _grouped(claim, _claimed(claim, q), bursts or {}, now)


def _claimed(conn: Connection, q: Select[Any]) -> Sequence[Any]:
    """The rows of ``q`` this pass locks, leaving out those another pass holds.

    Claims take turns (a session advisory lock held for the one statement, not the pass):
    a pass's claim statement starts only after the previous one has locked all its rows.
    The savepoint keeps the transaction usable for the unlock if the claim fails.
    """
    conn.execute(select(func.pg_advisory_lock(CLAIM_LOCK)))
    try:
        with conn.begin_nested():
            return conn.execute(q.with_for_update(skip_locked=True, of=s.alerts)).all()
    finally:
        conn.execute(select(func.pg_advisory_unlock(CLAIM_LOCK)))


def _due_query(now_s: str, ignore_backoff: bool) -> Select[Any]:
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
    return q


def _grouped(conn: Connection, rows: Sequence[Any], bursts: Mapping[str, tuple[int, float]],
             now: datetime) -> list[Group]:
    groups: dict[tuple[str, str, Any], Group] = {}
    burst_keys = _burst_keys(conn, rows, bursts, now)
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


def _burst_keys(conn: Connection, rows: Sequence[Any], bursts: Mapping[str, tuple[int, float]],
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

    On PostgreSQL, where several nodes deliver from one outbox, a pass claims its
    rows: one transaction on one connection selects the due alerts ``FOR UPDATE
    SKIP LOCKED``, sends, marks sent or schedules retries, and commits at the end.
    Another node's pass skips the rows this one holds (it never waits for them) and
    sends only what nobody holds, so no two nodes send the same alert.

    A digest is built once, never split between two nodes. The claim locks every
    due row of the pass in one statement, and claims take turns (:func:`_claimed`):
    each claim starts after the previous one has locked all its rows, so a group's
    rows due at a claim are either all free, and all taken by it, or all held by
    one earlier pass, and skipped together. (Without the turns two claims running at
    once could each lock part of a digest, as PostgreSQL locks row by row, and send
    two halves.) Rows that join a group after its claim (a health alert queued
    after its round ended) go in a later message, as on a single node. A burst counts
    the alerts other passes have marked sent, not those they are sending right now.

    At least once: a node that dies mid-pass (or loses the database) rolls back, so
    every message it sent in that pass is sent again by the next pass, on any
    node. ``dry_run`` takes no lock and writes nothing (it may list rows another
    node is sending right now). On SQLite (one machine) a pass only reads and each
    group commits on its own, as it always has: no transaction held across a send
    that would block the crawler's writes.
    """
    if dry_run or archive.engine.dialect.name != "postgresql":
        return _deliver(archive, None, channels, build, broken or {}, now or datetime.now(UTC),
                        dry_run, ignore_backoff, bursts)
    with archive.engine.connect() as conn, conn.begin():
        return _deliver(archive, conn, channels, build, broken or {}, now or datetime.now(UTC),
                        dry_run, ignore_backoff, bursts)


def _deliver(
    archive: Archive, claim: Connection | None, channels: Mapping[str, Any],
    build: Callable[[Group], Any], broken: Mapping[str, str], now: datetime, dry_run: bool,
    ignore_backoff: bool, bursts: Mapping[str, tuple[int, float]] | None,
) -> DeliveryReport:
    """One pass; ``claim``: the pass's connection on PostgreSQL (every write goes on it)."""
    report = DeliveryReport()
    failures_in_a_row: dict[str, int] = {}
    groups = due_groups(archive, now, ignore_backoff=ignore_backoff, bursts=bursts, claim=claim)
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
            _retry(archive, group, now, reason, getattr(exc, "retry_after", None), conn=claim)
            report.failed.append(f"{name}: {reason}")
            failures_in_a_row[name] = failures_in_a_row.get(name, 0) + 1
            continue
        failures_in_a_row[name] = 0
        _mark_sent(archive, group, now, conn=claim)
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


def _mark_sent(archive: Archive, group: Group, now: datetime, *,
               conn: Connection | None = None) -> None:
    a = s.alerts.c
    _write(archive, conn,
           update(s.alerts)
           .where(a.id.in_(group.alert_ids))
           .values(status="sent", sent_at=iso_utc(now), attempts=a.attempts + 1, last_error=None))


def _retry(archive: Archive, group: Group, now: datetime, error: str,
           retry_after: float | None = None, *, conn: Connection | None = None) -> None:
    delay = min(BACKOFF_FIRST * (2 ** group.attempts), BACKOFF_MAX)
    if retry_after:
        delay = max(delay, min(retry_after, BACKOFF_MAX))
    a = s.alerts.c
    _write(archive, conn,
           update(s.alerts)
           .where(and_(a.id.in_(group.alert_ids), a.status == "pending"))
           .values(attempts=a.attempts + 1, last_error=error[:500],
                   next_attempt_at=iso_utc(now + timedelta(seconds=delay))))


def _write(archive: Archive, conn: Connection | None, statement: Any) -> None:
    """On the pass's connection (committed with the pass), or in a transaction of its own."""
    if conn is not None:
        conn.execute(statement)
        return
    with archive.engine.begin() as own:
        own.execute(statement)
