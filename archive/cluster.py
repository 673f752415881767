"""What several nodes on one archive share besides the archive itself (schema 12).

* the published config: the wpwatch.toml text every node runs (a node publishes its
  own when it starts or reloads; the others follow it);
* the nodes: a heartbeat and counters per node, for `wpwatch status`;
* the schedule's due rows, for the dispatcher, and the start delay of each round
  (how long after its due time a node began it).

Plain reads and writes on the archive's engine; the coordination itself (who is the
dispatcher, which node runs which round) lives in wpwatch/cluster.py.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine

from archive import schema as s
from core.values import parse_iso, utcnow

#: Start times and nodes older than this are pruned: the status shows the last hour.
START_HISTORY_HOURS = 24


@dataclass(frozen=True)
class PublishedConfig:
    digest: str
    text: str
    published_at: str
    published_by: str


def config_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def publish_config(engine: Engine, text: str, node: str) -> str:
    """Make ``text`` the config every node runs; returns its digest."""
    digest = config_digest(text)
    values = {"digest": digest, "config": text, "published_at": utcnow(), "published_by": node}
    with engine.begin() as conn:
        done = conn.execute(update(s.cluster_config).where(s.cluster_config.c.id == 1)
                            .values(**values))
        if done.rowcount == 0:
            conn.execute(insert(s.cluster_config).values(id=1, **values))
    return digest


def published_digest(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(s.cluster_config.c.digest)).scalar()


def published_config(engine: Engine) -> PublishedConfig | None:
    c = s.cluster_config.c
    with engine.connect() as conn:
        row = conn.execute(select(c.digest, c.config, c.published_at, c.published_by)).first()
    return PublishedConfig(*row) if row else None


# -- nodes -------------------------------------------------------------------------------
def node_started(engine: Engine, name: str) -> None:
    now = utcnow()
    values = {"started_at": now, "last_seen": now, "stopped_at": None, "dispatcher": False,
              "running": 0, "rounds": 0, "recovered": 0}
    with engine.begin() as conn:
        done = conn.execute(update(s.cluster_nodes).where(s.cluster_nodes.c.name == name)
                            .values(**values))
        if done.rowcount == 0:
            conn.execute(insert(s.cluster_nodes).values(name=name, **values))


def node_heartbeat(engine: Engine, name: str, *, dispatcher: bool, running: int, rounds: int,
                   recovered: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(s.cluster_nodes).where(s.cluster_nodes.c.name == name).values(
            last_seen=utcnow(), dispatcher=dispatcher, running=running, rounds=rounds,
            recovered=recovered))


def node_stopped(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(s.cluster_nodes).where(s.cluster_nodes.c.name == name).values(
            stopped_at=utcnow(), last_seen=utcnow(), dispatcher=False, running=0))


def nodes(engine: Engine) -> list[dict[str, Any]]:
    """Every node that ran, newest heartbeat first."""
    n = s.cluster_nodes.c
    with engine.connect() as conn:
        rows = conn.execute(select(s.cluster_nodes).order_by(n.last_seen.desc())).mappings()
        return [dict(r) for r in rows]


# -- the schedule ------------------------------------------------------------------------
def due_rows(engine: Engine, now: str, limit: int) -> list[dict[str, Any]]:
    """Schedule rows due at ``now`` (a round or a full round), the longest waiting first."""
    c = s.schedule.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.site_url, c.next_due, c.next_full_due)
            .where(or_(c.next_due <= now, c.next_full_due <= now))
            .order_by(func.coalesce(c.next_due, c.next_full_due))
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows]


def advance_schedules(engine: Engine,
                      updates: Sequence[tuple[str, str | None, str | None]]) -> None:
    """Move many sites' next due times on in one transaction: (url, next_due, next_full_due)."""
    if not updates:
        return
    c = s.schedule.c
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(s.schedule).where(c.site_url == bindparam("url")).values(
                next_due=bindparam("due"), next_full_due=bindparam("full_due"), updated_at=now),
            [{"url": u, "due": d, "full_due": f} for u, d, f in updates])


def due_counts(engine: Engine, now: str, overdue_before: str) -> tuple[int, int]:
    """(due now, due since before ``overdue_before``): rounds the nodes have yet to start."""
    c = s.schedule.c
    with engine.connect() as conn:
        due = conn.execute(select(func.count()).where(c.next_due <= now)).scalar_one()
        late = conn.execute(select(func.count()).where(c.next_due <= overdue_before)).scalar_one()
    return int(due), int(late)


def scheduled_sites(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(s.schedule.c.site_url)).scalars())


def sync_schedules(engine: Engine, new: Mapping[str, tuple[str, str]], keep: set[str]) -> None:
    """Add the sites of ``new`` (URL → first due, first full due) to the schedule and drop
    every site not in ``keep``, in one transaction."""
    c = s.schedule.c
    now = utcnow()
    with engine.begin() as conn:
        known = set(conn.execute(select(c.site_url)).scalars())
        rows = [{"site_url": url, "next_due": due, "next_full_due": full_due, "updated_at": now}
                for url, (due, full_due) in new.items() if url not in known]
        if rows:
            conn.execute(insert(s.schedule), rows)
        removed = [url for url in known if url not in keep]
        if removed:
            conn.execute(delete(s.schedule).where(c.site_url.in_(removed)))


def due_now(engine: Engine, site_url: str) -> None:
    """The site's next round is due at once (a node gives back a round it stopped)."""
    with engine.begin() as conn:
        conn.execute(update(s.schedule).where(s.schedule.c.site_url == site_url)
                     .values(next_due=utcnow(), updated_at=utcnow()))


def interrupt_running_rounds(engine: Engine, site_url: str, why: str) -> int:
    """The site's rounds left 'running' (by a node that died, or while the database was
    away) are recorded interrupted, ``why`` as their error.

    Only called by the holder of the site's round lock (a stalled job being given back,
    or a round about to start): no other round of the site can be running.
    """
    with engine.begin() as conn:
        return _interrupt_running(conn, site_url, why)


def _interrupt_running(conn: Connection, site_url: str, why: str) -> int:
    r, st = s.rounds.c, s.sites.c
    site_id = select(st.id).where(st.url == site_url).scalar_subquery()
    done = conn.execute(update(s.rounds).where(r.site_id == site_id, r.outcome == "running")
                        .values(outcome="interrupted", finished_at=utcnow(), error=why))
    return done.rowcount


# -- start delays ------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundStart:
    """A node starts a round of a site: when it was due, which node runs it, and the error
    a round of the site still 'running' is recorded interrupted with (it is stale: this
    node holds the site's lock)."""

    due_at: str
    node: str
    stale: str


def record_start(conn: Connection, site_url: str, start: RoundStart) -> None:
    """The round's start delay, and a stale round of the site ended (in the caller's
    transaction: `Archive.begin_round`'s, for a site's first round)."""
    _interrupt_running(conn, site_url, start.stale)
    conn.execute(insert(s.round_starts).values(site_url=site_url, due_at=start.due_at,
                                               started_at=utcnow(), node=start.node))


def _start_on_known_site() -> Select[Any]:
    """`start_on_known_site`'s statement (PostgreSQL: data-modifying WITH), built once.

    Its bound names (``b_*``) differ from every column's: SQLAlchemy reads a parameter
    named after a column of an UPDATE or INSERT as a value to set.
    """
    r, h = s.rounds.c, s.site_health.c
    site = select(s.sites).where(s.sites.c.url == bindparam("b_url")).cte("site")
    stale = (update(s.rounds)
             .where(r.site_id.in_(select(site.c.id)), r.outcome == "running")
             .values(outcome=literal("interrupted"), finished_at=bindparam("b_now"),
                     error=bindparam("b_stale"))
             .returning(r.id).cte("stale"))
    started = (insert(s.round_starts)
               .from_select(["site_url", "due_at", "started_at", "node"],
                            select(bindparam("b_url"), bindparam("b_due"), bindparam("b_now"),
                                   bindparam("b_node")).select_from(site))
               .returning(s.round_starts.c.id).cte("started"))
    opened = (insert(s.rounds)
              .from_select(["site_id", "full", "started_at", "outcome", "requests", "bytes",
                            "errors"],
                           select(site.c.id, bindparam("b_full"), bindparam("b_now"),
                                  literal("running"), literal(0), literal(0), literal(0))
                           .select_from(site), include_defaults=False)
              .returning(r.id).cte("opened"))
    return (select(site, opened.c.id.label("round_id"), h.state.label("health"))
            .select_from(site.join(opened, true())
                         .outerjoin(s.site_health, h.site_id == site.c.id))
            .add_cte(stale, started))


_START_ON_KNOWN_SITE = _start_on_known_site()
_SITE_COLUMNS = tuple(column.key for column in s.sites.c)


@dataclass(frozen=True)
class StartedRound:
    """A round a node opened on a site the archive knows (`start_on_known_site`)."""

    site: dict[str, Any]  # the site's row
    round_id: int
    health: str | None  # the site's watch health as the round starts; None: never judged


def start_on_known_site(conn: Connection, site_url: str, full: bool,
                        start: RoundStart) -> StartedRound | None:
    """What `record_start`, the site's row, its health and a new round take, in one
    statement (so one round trip and, in autocommit, one transaction); None when the
    archive has no row of the site yet (its first round: nothing was written then).

    A quiet round's start on a node is otherwise seven round trips.
    """
    row = conn.execute(_START_ON_KNOWN_SITE, {
        "b_url": site_url, "b_now": utcnow(), "b_stale": start.stale, "b_due": start.due_at,
        "b_node": start.node, "b_full": full}).mappings().first()
    if row is None:
        return None
    site = {name: row[name] for name in _SITE_COLUMNS}
    return StartedRound(site, int(row["round_id"]), row["health"])


def prune_history(engine: Engine, before: str) -> None:
    """Forget round starts, and nodes last seen, before ``before`` (each restart of a node
    is a new row: without this the status would list every node that ever ran)."""
    with engine.begin() as conn:
        conn.execute(delete(s.round_starts).where(s.round_starts.c.started_at < before))
        conn.execute(delete(s.cluster_nodes).where(s.cluster_nodes.c.last_seen < before))


def start_delays(engine: Engine, since: str) -> list[float]:
    """Seconds between due and start of every round started since ``since``."""
    r = s.round_starts.c
    with engine.connect() as conn:
        rows = conn.execute(select(r.due_at, r.started_at).where(r.started_at >= since))
        return [max(0.0, (parse_iso(started) - parse_iso(due)).total_seconds())
                for due, started in rows]


def delay_summary(delays: list[float]) -> dict[str, Any]:
    """``{"rounds": n, "median_s": …, "p95_s": …}`` (None without rounds)."""
    if not delays:
        return {"rounds": 0, "median_s": None, "p95_s": None}
    ordered = sorted(delays)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"rounds": len(ordered), "median_s": round(statistics.median(ordered), 3),
            "p95_s": round(p95, 3)}
