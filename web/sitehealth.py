"""The sites page and ``GET /api/sites``: each site's health, counts and coverage gaps.

Health is what `wpwatch status` says (last round, errors in a row, degraded, next due);
added here: the last good round, post and change counts, and coverage gaps: stretches
longer than :data:`GAP_FACTOR` × the site's interval (at least an hour) between two rounds
that reached the site, among its last :data:`GAP_ROUNDS` rounds.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from sqlalchemy import select

from archive import schema as s
from archive.store import Archive
from core.config import DEFAULT_INTERVAL, Config
from core.values import parse_iso
from web import queue
from wpwatch.status import REACHED, site_statuses

GAP_FACTOR = 3
GAP_ROUNDS = 500
GAPS_SHOWN = 5


def site_health(archive: Archive, conf: Config) -> list[dict[str, Any]]:
    counts = {row["url"]: row for row in queue.sites(archive)}
    out = []
    for status in site_statuses(archive, conf):
        row = counts.get(status["url"])
        if row is None:
            continue  # configured but never crawled: nothing to review yet
        sc = conf.site(status["url"])
        interval = sc.interval if sc else DEFAULT_INTERVAL
        good = archive.last_round_with(row["id"], "ok")
        out.append({
            **status, "id": row["id"], "name": status["name"], "changes": row["changes"],
            "posts": row["posts"], "last_good": good["started_at"] if good else None,
            "gaps": coverage_gaps(archive, row["id"], interval),
        })
    return out


def coverage_gaps(archive: Archive, site_id: int, interval: float) -> list[dict[str, Any]]:
    r = s.rounds.c
    with archive.engine.connect() as conn:
        starts = list(conn.execute(
            select(r.started_at).where(r.site_id == site_id, r.outcome.in_(REACHED))
            .order_by(r.id.desc()).limit(GAP_ROUNDS)).scalars())
    starts.reverse()
    limit = max(3600.0, GAP_FACTOR * interval)
    gaps = []
    for before, after in pairwise(starts):
        seconds = (parse_iso(after) - parse_iso(before)).total_seconds()
        if seconds > limit:
            gaps.append({"start": before, "end": after, "hours": round(seconds / 3600, 1)})
    return gaps[-GAPS_SHOWN:]
