"""Keeps ``review_index`` up to date: per change its searchable changed text and priority.

The crawler writes changes; the workspace indexes the ones it has not seen yet before it
answers a question about them (:func:`catch_up`, a cheap no-op when nothing is new), and
re-scores every change when the keywords or site weights differ from the ones its stored
scores were computed with. The index is derived data: dropping it loses nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.store import Archive
from web.priority import changed_text, priority, settings_hash

log = logging.getLogger("wpwatch.web.index")
BATCH = 1000
ANALYZE_AFTER = 1000  # changes indexed at once after which the planner statistics are refreshed


@dataclass(frozen=True)
class Scoring:
    """What priorities depend on besides the change: route keywords and site weights (by URL)."""

    keywords: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return settings_hash(self.keywords, self.weights)


_lock = threading.Lock()


def catch_up(archive: Archive, scoring: Scoring, *, analyze: bool = False) -> int:
    """Index every change not indexed yet and re-score stale scores; how many were touched.
    ``analyze`` refreshes the planner's statistics anyway (`wpwatch serve` does at start)."""
    with _lock, archive.engine.begin() as conn:
        indexed = _index_new(conn, scoring)
        touched = indexed + _rescore(conn, scoring)
        if conn.dialect.name == "sqlite" and (analyze or indexed >= ANALYZE_AFTER):
            # Without sqlite_stat1 the planner guesses that "state = 'new'" picks a few rows
            # and sorts nearly every change for a page; PostgreSQL's autovacuum does this.
            conn.execute(text("ANALYZE review_index"))
    if touched:
        log.info("review index: %d changes indexed or re-scored", touched)
    return touched


def _site_weights(conn: Connection, scoring: Scoring) -> dict[int, float]:
    return {row.id: scoring.weights.get(row.url, 1.0)
            for row in conn.execute(select(s.sites.c.id, s.sites.c.url))}


def _index_new(conn: Connection, scoring: Scoring) -> int:
    c, ri, v = s.changes.c, s.review_index.c, s.versions.c
    newest = conn.execute(select(ri.change_id).order_by(ri.change_id.desc()).limit(1)).scalar() or 0
    weights = _site_weights(conn, scoring)
    digest = scoring.hash
    done = 0
    while True:
        rows = conn.execute(
            select(c.id, c.site_id, c.kind, c.fields, c.detected_at, c.from_version_id,
                   c.to_version_id)
            .where(c.id > newest).order_by(c.id).limit(BATCH)
        ).all()
        if not rows:
            return done
        wanted = {vid for r in rows for vid in (r.from_version_id, r.to_version_id) if vid}
        states = dict(conn.execute(select(s.triage.c.change_id, s.triage.c.state)
                                   .where(s.triage.c.change_id.in_([r.id for r in rows]))).all())
        normalized = {
            vid: json.loads(zlib.decompress(blob))
            for vid, blob in conn.execute(select(v.id, v.normalized).where(v.id.in_(wanted)))
        }
        values = []
        for r in rows:
            old = None if r.kind == "new" else normalized.get(r.from_version_id)
            new = None if r.kind in ("deleted", "unpublished") else normalized.get(r.to_version_id)
            if old is None and new is None:
                old = normalized.get(r.from_version_id) or normalized.get(r.to_version_id)
            changed = changed_text(old, new)
            fields = json.loads(r.fields or "[]")
            score = priority(r.kind, fields, changed, scoring.keywords, weights.get(r.site_id, 1.0))
            values.append(
                {
                    "change_id": r.id,
                    "site_id": r.site_id,
                    "kind": r.kind,
                    "detected_at": r.detected_at,
                    "state": states.get(r.id, "new"),
                    "search_text": changed,
                    "priority": round(score * 100),
                    "scored_with": digest,
                }
            )
        conn.execute(insert(s.review_index), values)
        if text_search_index(conn):
            conn.execute(text(f"INSERT INTO {s.REVIEW_FTS}(rowid, search_text) "
                              "VALUES (:change_id, :search_text)"), values)
        done += len(values)
        newest = rows[-1].id


def _rescore(conn: Connection, scoring: Scoring) -> int:
    ri, c = s.review_index.c, s.changes.c
    digest = scoring.hash
    # Two ranges rather than "!=", so the index answers in a seek instead of a full scan.
    outdated = or_(ri.scored_with < digest, ri.scored_with > digest)
    stale = conn.execute(select(ri.change_id).where(outdated).limit(1)).first()
    if stale is None:
        return 0
    weights = _site_weights(conn, scoring)
    rows = conn.execute(
        select(ri.change_id, ri.site_id, ri.kind, ri.search_text, c.fields)
        .join(s.changes, c.id == ri.change_id).where(outdated)
    ).all()
    for r in rows:
        score = priority(r.kind, json.loads(r.fields or "[]"), r.search_text, scoring.keywords,
                         weights.get(r.site_id, 1.0))
        conn.execute(update(s.review_index).where(ri.change_id == r.change_id)
                     .values(priority=round(score * 100), scored_with=digest))
    return len(rows)


def text_search_index(conn: Connection) -> bool:
    """Whether the archive has the full-text index of review_index (SQLite with FTS5)."""
    if conn.dialect.name != "sqlite":
        return False
    found = conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"),
                         {"n": s.REVIEW_FTS}).first()
    return found is not None


def scoring_from_config(conf: Any) -> Scoring:
    """Route keywords (every ``[[alerts]] keywords``) and ``[[sites]] weight`` of a config."""
    keywords: list[str] = []
    for route in conf.alerts:
        for k in route.get("keywords") or []:
            if isinstance(k, str) and k.strip() and k not in keywords:
                keywords.append(k)
    weights = {site.url: site.weight for site in conf.sites if site.weight != 1.0}
    return Scoring(tuple(keywords), weights)
