"""Coverage: when a site was watched, and the claims that rest on it.

From the rounds table alone (read-only):

* :func:`coverage`: the intervals during which every round of a site succeeded, and the
  gaps between them (from, to, why: the failed, degraded or interrupted rounds, or no
  round at all for longer than ``max_silence``);
* :func:`presence`: for a gone post, the last complete round before the one that found it
  gone ("last seen present at T1 (round R1), first seen gone at T2 (round R2)"); for a new
  post, the last complete round before the one that found it ("absent at T0").

A round counts as covering its site only when its outcome is ``ok``: every listing read,
every check made. Rounds that ended with errors, degraded (REST API closed: feed and
sitemap only), failed or interrupted are gaps, and say so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from archive import schema as s
from core.values import parse_iso

COVERED = "ok"
GONE_KINDS = ("deleted", "unpublished")


def site_rounds(conn: Connection, site_id: int, since: str | None = None) -> list[dict[str, Any]]:
    """Every finished round of the site, oldest first."""
    r = s.rounds.c
    q = (select(r.id, r.outcome, r.started_at, r.finished_at, r.error)
         .where(r.site_id == site_id, r.outcome != "running").order_by(r.id))
    if since:
        q = q.where(r.started_at >= since)
    return [dict(row) for row in conn.execute(q).mappings()]


def coverage(conn: Connection, site_id: int, *, max_silence: float | None = None,
             since: str | None = None) -> dict[str, Any]:
    """``{"rounds", "first", "last", "covered": [...], "gaps": [...]}`` for one site.

    A covered interval: ``from`` (its first round's start) ``to`` (its last round's end),
    ``rounds``, ``from_round``, ``to_round``. A gap: ``from`` (the end of the covered
    interval before it, else its first round's start), ``to`` (the start of the next
    covered round; None while it lasts), ``why``, ``rounds`` (ids of the rounds in it).
    ``max_silence`` (seconds): two successful rounds further apart than this are a gap
    too ("no round for …": the watcher was not running).
    """
    rounds = site_rounds(conn, site_id, since)
    covered: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    last_ok: dict[str, Any] | None = None
    for rnd in rounds:
        if rnd["outcome"] != COVERED:
            bad.append(rnd)
            continue
        broken = bool(bad)
        if bad:
            gaps.append(_gap(last_ok, bad, rnd))
            bad = []
        elif last_ok is not None and max_silence and _apart(last_ok, rnd) > max_silence:
            gaps.append({"from": last_ok["finished_at"], "to": rnd["started_at"],
                         "until": None, "why": f"no round for {_duration(_apart(last_ok, rnd))}",
                         "rounds": []})
            broken = True
        if covered and not broken:
            covered[-1].update(to=rnd["finished_at"], to_round=rnd["id"])
            covered[-1]["rounds"] += 1
        else:
            covered.append({"from": rnd["started_at"], "to": rnd["finished_at"],
                            "from_round": rnd["id"], "to_round": rnd["id"], "rounds": 1})
        last_ok = rnd
    if bad:
        gaps.append(_gap(last_ok, bad, None))
    return {
        "rounds": len(rounds),
        "first": rounds[0]["started_at"] if rounds else None,
        "last": rounds[-1]["finished_at"] if rounds else None,
        "covered": covered,
        "gaps": gaps,
    }


def _gap(last_ok: dict[str, Any] | None, bad: list[dict[str, Any]],
         next_ok: dict[str, Any] | None) -> dict[str, Any]:
    outcomes: dict[str, list[dict[str, Any]]] = {}
    for rnd in bad:
        outcomes.setdefault(rnd["outcome"], []).append(rnd)
    why = "; ".join(
        f"{len(rs)} {outcome} round{'s' if len(rs) != 1 else ''}"
        + (f": {' '.join(str(rs[-1]['error']).split())[:300]}" if rs[-1]["error"] else "")
        for outcome, rs in outcomes.items()
    )
    return {
        "from": last_ok["finished_at"] if last_ok else bad[0]["started_at"],
        "to": next_ok["started_at"] if next_ok else None,
        "until": None if next_ok else bad[-1]["finished_at"],  # still open: last looked
        "why": why,
        "rounds": [rnd["id"] for rnd in bad],
    }


def _apart(a: dict[str, Any], b: dict[str, Any]) -> float:
    return (parse_iso(b["started_at"]) - parse_iso(a["finished_at"])).total_seconds()


def _duration(seconds: float) -> str:
    text = str(timedelta(seconds=round(seconds)))
    return text.replace(" days, ", "d ").replace(" day, ", "d ")


def presence(conn: Connection, site_id: int, kind: str, round_id: int | None,
             detected_at: str) -> dict[str, Any] | None:
    """When a gone post was last seen present, or a new post last seen absent.

    ``{"last_present_at", "last_present_round", "gone_at", "gone_round"}`` for deleted
    and unpublished; ``{"first_seen_at", "first_seen_round", "absent_at",
    "absent_round"}`` for new. The earlier side is the last complete (``ok``) round of
    the site before the change's round, or None when there is none.
    """
    if kind not in (*GONE_KINDS, "new") or round_id is None:
        return None
    r = s.rounds.c
    before = conn.execute(
        select(r.id, r.finished_at)
        .where(r.site_id == site_id, r.id < round_id, r.outcome == COVERED)
        .order_by(r.id.desc()).limit(1)
    ).first()
    at, rid = (before.finished_at, before.id) if before else (None, None)
    if kind == "new":
        return {"first_seen_at": detected_at, "first_seen_round": round_id,
                "absent_at": at, "absent_round": rid}
    return {"last_present_at": at, "last_present_round": rid, "gone_at": detected_at,
            "gone_round": round_id}


def report(archive: Any, sites: list[tuple[str, str, float | None]],
           since: str | None = None) -> list[dict[str, Any]]:
    """:func:`coverage` of each ``(url, name, max_silence)`` the archive knows, in order."""
    out = []
    with archive.engine.connect() as conn:
        ids = {row.url: row.id for row in conn.execute(select(s.sites.c.url, s.sites.c.id))}
        for url, name, silence in sites:
            if url in ids:
                out.append({"site": url, "name": name,
                            **coverage(conn, ids[url], max_silence=silence, since=since)})
    return out
