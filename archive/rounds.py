"""A round's memory and record: type states, known posts, rounds, the daemon's schedule.

Functions over a connection; the caller chooses the transaction.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.exceptions import ArchiveError
from archive.records import KnownPost, TypeState
from archive.writes import inserted_id
from core.values import KINDS, utcnow

#: Outcomes that end a run of failed rounds (see :func:`errors_in_a_row`).
NOT_AN_ERROR = ("ok", "running", "interrupted")


# -- what the incremental round remembers ----------------------------------------------
def type_states(conn: Connection, site_id: int) -> dict[str, TypeState]:
    rows = conn.execute(select(s.site_types).where(s.site_types.c.site_id == site_id))
    return {
        r.type: TypeState(
            type=r.type,
            slug=r.slug,
            baselined=bool(r.baselined),
            modified_watermark=r.modified_watermark,
            date_watermark=r.date_watermark,
            max_id=r.max_id,
            last_total=r.last_total,
        )
        for r in rows
    }


def save_type_state(conn: Connection, site_id: int, st: TypeState) -> None:
    values = {
        "slug": st.slug,
        "baselined": st.baselined,
        "modified_watermark": st.modified_watermark,
        "date_watermark": st.date_watermark,
        "max_id": st.max_id,
        "last_total": st.last_total,
    }
    done = conn.execute(
        update(s.site_types)
        .where(s.site_types.c.site_id == site_id, s.site_types.c.type == st.type)
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(s.site_types).values(site_id=site_id, type=st.type, **values))


def known_posts(conn: Connection, site_id: int, type_: str) -> dict[int, KnownPost]:
    p = s.posts.c
    rows = conn.execute(
        select(p.wp_id, p.state, p.modified_gmt, p.date_gmt).where(
            p.site_id == site_id, p.type == type_
        )
    )
    return {r.wp_id: KnownPost(r.state, r.modified_gmt, r.date_gmt) for r in rows}


@dataclass(frozen=True)
class SiteMemory:
    """What a round of a site starts from, read in one transaction (`memory`).

    ``known``: REST base → wp_id → state and stamps of every post the archive
    holds; ``links``: (REST base, wp_id) → public link; ``fallback_seen``: the
    URLs degraded mode already looked at.
    """

    site: dict[str, Any]
    type_states: dict[str, TypeState]
    known: dict[str, dict[int, KnownPost]]
    links: dict[tuple[str, int], str | None]
    fallback_seen: frozenset[str]

    @property
    def version(self) -> tuple[int, str, int]:
        """Which site, and which state of its memory, this is (see `memory_changed`)."""
        return memory_version(self.site)

    @property
    def posts(self) -> int:
        return len(self.links)


def memory_version(site: dict[str, Any]) -> tuple[int, str, int]:
    """The site row's id, creation time and memory version: equal, the memory is too."""
    return site["id"], site["created_at"], site["memory_version"]


def memory_changed(conn: Connection, site_id: int) -> None:
    """The site's round memory changes in this transaction: move its version."""
    st = s.sites.c
    conn.execute(update(s.sites).where(st.id == site_id)
                 .values(memory_version=st.memory_version + 1))


def kept_if_current(site: dict[str, Any], kept: SiteMemory | None) -> SiteMemory | None:
    """``kept`` (with the site's row as read now) while it is the site's memory now."""
    if kept is not None and kept.version == memory_version(site):
        return dataclasses.replace(kept, site=site)
    return None


def find_site(conn: Connection, url: str) -> dict[str, Any] | None:
    row = conn.execute(select(s.sites).where(s.sites.c.url == url)).mappings().first()
    return dict(row) if row else None


def memory(conn: Connection, site: dict[str, Any], kept: SiteMemory | None = None
           ) -> SiteMemory:
    """The round memory of the site (its row): three queries whatever its size, or none
    when ``kept`` (a copy from an earlier round) is of the site's current version."""
    current = kept_if_current(site, kept)
    if current is not None:
        return current
    site_id = site["id"]
    p, f = s.posts.c, s.fallback_seen.c
    known: dict[str, dict[int, KnownPost]] = {}
    links: dict[tuple[str, int], str | None] = {}
    for r in conn.execute(select(p.type, p.wp_id, p.state, p.modified_gmt, p.date_gmt, p.link)
                          .where(p.site_id == site_id)):
        known.setdefault(r.type, {})[r.wp_id] = KnownPost(r.state, r.modified_gmt, r.date_gmt)
        links[r.type, r.wp_id] = r.link
    seen = frozenset(conn.execute(select(f.url).where(f.site_id == site_id)).scalars())
    return SiteMemory(site, type_states(conn, site_id), known, links, seen)


def site_row(conn: Connection, url: str, name: str | None = None) -> dict[str, Any]:
    """The site's row, created on first use; a configured name kept up to date."""
    site = find_site(conn, url)
    if site is None:
        conn.execute(insert(s.sites).values(url=url, name=name, created_at=utcnow()))
        site = find_site(conn, url)
        if site is None:
            raise ArchiveError(f"the site row of {url} vanished in its own transaction")
    else:
        keep_name(conn, site, name)
    return site


def renamed(site: dict[str, Any], name: str | None) -> bool:
    """Whether the config names the site otherwise than its row does."""
    return bool(name) and site["name"] != name


def keep_name(conn: Connection, site: dict[str, Any], name: str | None) -> None:
    """A configured name the site's row does not hold yet is written to it (and ``site``)."""
    if renamed(site, name):
        conn.execute(update(s.sites).where(s.sites.c.id == site["id"]).values(name=name))
        site["name"] = name


@dataclass(frozen=True)
class BegunRound:
    """A round opened with what it starts from (`begin_round`)."""

    memory: SiteMemory
    site_id: int
    round_id: int
    health: str | None  # the site's watch health as the round starts; None: never judged


def begin_round(conn: Connection, url: str, name: str | None, full: bool,
                kept: SiteMemory | None) -> BegunRound:
    """The site's row, its memory (``kept`` while current), its health, and a new round."""
    site = site_row(conn, url, name)
    health = health_state(conn, site["id"])
    return BegunRound(memory(conn, site, kept), site["id"],
                      start_round(conn, site["id"], full), health["state"] if health else None)


def open_round(conn: Connection, url: str, name: str | None, full: bool) -> tuple[int, int]:
    """The site's row (`site_row`) and a new round's: (site id, round id)."""
    site_id = site_row(conn, url, name)["id"]
    return site_id, start_round(conn, site_id, full)


# -- rounds ------------------------------------------------------------------------------
def start_round(conn: Connection, site_id: int, full: bool) -> int:
    return inserted_id(conn.execute(
        insert(s.rounds).values(site_id=site_id, full=full, started_at=utcnow(), outcome="running")
    ))


def finish_round(
    conn: Connection,
    round_id: int,
    *,
    outcome: str,
    requests: int,
    bytes_: int,
    errors: int,
    error: str | None,
    stored_posts: bool = True,
) -> dict[str, Any]:
    """Close a round with its outcome, counters and the count of changes of each kind;
    its row as `round_row` reads it. A round that stored no posts (a quiet one) made
    no changes: not counted."""
    kinds = conn.execute(
        select(s.changes.c.kind, func.count())
        .where(s.changes.c.round_id == round_id)
        .group_by(s.changes.c.kind)
    ).all() if stored_posts else []
    counts = {k: 0 for k in KINDS} | {k: n for k, n in kinds}
    row = conn.execute(_FINISH_ROUND, {
        "b_id": round_id, "b_finished_at": utcnow(), "b_outcome": outcome,
        "b_requests": requests, "b_bytes": bytes_, "b_errors": errors, "b_error": error,
        "b_counts": json.dumps(counts)}).mappings().one()
    return _with_counts(row)


#: `finish_round`'s UPDATE, built once (every round runs it). Bound names are not column
#: names: SQLAlchemy would read those as more columns to set.
_FINISH_ROUND = (
    update(s.rounds)
    .where(s.rounds.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in
             ("finished_at", "outcome", "requests", "bytes", "errors", "error", "counts")})
    .returning(*s.rounds.c)
)


def mark_stale_rounds_interrupted(conn: Connection) -> int:
    """Rounds left 'running' by a killed process are recorded as interrupted."""
    res = conn.execute(
        update(s.rounds)
        .where(s.rounds.c.outcome == "running")
        .values(outcome="interrupted", finished_at=utcnow(), error="process ended mid-round")
    )
    return res.rowcount


def round_row(conn: Connection, round_id: int) -> dict[str, Any]:
    row = conn.execute(select(s.rounds).where(s.rounds.c.id == round_id)).mappings().one()
    return _with_counts(row)


def last_rounds(conn: Connection) -> dict[int, dict[str, Any]]:
    """The newest round of every site, keyed by site id."""
    r = s.rounds.c
    newest = select(r.site_id, func.max(r.id).label("rid")).group_by(r.site_id).subquery()
    rows = conn.execute(select(s.rounds).join(newest, newest.c.rid == r.id)).mappings()
    return {row["site_id"]: _with_counts(row) for row in rows}


def last_round_with(conn: Connection, site_id: int, outcome: str) -> dict[str, Any] | None:
    r = s.rounds.c
    row = conn.execute(
        select(r.started_at, r.finished_at, r.error)
        .where(r.site_id == site_id, r.outcome == outcome)
        .order_by(r.id.desc())
        .limit(1)
    ).mappings().first()
    return dict(row) if row else None


def errors_in_a_row(conn: Connection, site_id: int, limit: int = 20) -> int:
    """How many of the site's newest rounds failed, up to ``limit``."""
    r = s.rounds.c
    outcomes = conn.execute(
        select(r.outcome).where(r.site_id == site_id).order_by(r.id.desc()).limit(limit)
    ).scalars()
    n = 0
    for o in outcomes:
        if o in NOT_AN_ERROR:
            break
        n += 1
    return n


def _with_counts(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["counts"] = json.loads(out["counts"] or "{}")
    return out


# -- the daemon's schedule ---------------------------------------------------------------
def set_schedule(
    conn: Connection, site_url: str, next_due: str | None, next_full_due: str | None
) -> None:
    values = {"next_due": next_due, "next_full_due": next_full_due, "updated_at": utcnow()}
    done = conn.execute(
        update(s.schedule).where(s.schedule.c.site_url == site_url).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(s.schedule).values(site_url=site_url, **values))


def schedules(conn: Connection) -> dict[str, dict[str, Any]]:
    return {r["site_url"]: dict(r) for r in conn.execute(select(s.schedule)).mappings()}


# -- watch health ----------------------------------------------------------------------
def recent_rounds(conn: Connection, site_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The site's newest rounds, newest first: id, outcome, times and error."""
    r = s.rounds.c
    rows = conn.execute(
        select(r.id, r.outcome, r.started_at, r.finished_at, r.error)
        .where(r.site_id == site_id)
        .order_by(r.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def health_state(conn: Connection, site_id: int) -> dict[str, Any] | None:
    """The site's current episode (state, since, round_id), or None: never judged."""
    row = conn.execute(
        select(s.site_health).where(s.site_health.c.site_id == site_id)
    ).mappings().first()
    return dict(row) if row else None


def health_states(conn: Connection) -> dict[int, str]:
    """site id → healthy | failing | degraded, for every site ever judged."""
    h = s.site_health.c
    return {r.site_id: r.state for r in conn.execute(select(h.site_id, h.state))}


def record_health_event(
    conn: Connection, site_id: int, *, kind: str, state: str, round_id: int, since: str,
    rounds: int, reason: str | None,
) -> int | None:
    """Open or close an episode: the site's state and one event, in the caller's
    transaction. None when this round already recorded that event (a round run twice)."""
    e = s.health_events.c
    if conn.execute(
        select(e.id).where(e.round_id == round_id, e.kind == kind)
    ).first() is not None:
        return None
    now = utcnow()
    event_id = inserted_id(conn.execute(
        insert(s.health_events).values(
            site_id=site_id, kind=kind, round_id=round_id, since=since, detected_at=now,
            rounds=rounds, reason=reason,
        )
    ))
    values = {"state": state, "since": since if state != "healthy" else now,
              "round_id": round_id, "updated_at": now}
    done = conn.execute(
        update(s.site_health).where(s.site_health.c.site_id == site_id).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(s.site_health).values(site_id=site_id, **values))
    return event_id


def health_event(conn: Connection, event_id: int) -> dict[str, Any] | None:
    """One event with its site's URL and name."""
    e, st = s.health_events.c, s.sites.c
    row = conn.execute(
        select(s.health_events, st.url.label("site"), st.name.label("site_name"))
        .join(s.sites, st.id == e.site_id)
        .where(e.id == event_id)
    ).mappings().first()
    return dict(row) if row else None
