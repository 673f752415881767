"""The queue: changes filtered, counted, sorted and paged, with their working notes.

One :class:`Filters` drives both the queue page and ``GET /api/changes``. Filtering runs
on ``review_index`` (one row per change, indexed on site, kind, date and priority) joined
with the triage state; only the page's own rows are then read in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, func, literal_column, select, table
from sqlalchemy.sql import ColumnElement, Select

from archive import notes
from archive import schema as s
from archive.answers import scored_fields
from archive.store import Archive
from core.values import KINDS, iso_utc, parse_iso
from web.index import text_search_index

PER_PAGE = 50
SORTS = ("newest", "priority")


@dataclass(frozen=True)
class Filters:
    site: int | None = None
    kind: str | None = None
    state: str | None = None
    label: str | None = None
    q: str | None = None
    since: str | None = None  # ISO UTC, inclusive
    until: str | None = None  # ISO UTC, exclusive
    sort: str = "newest"
    page: int = 1
    noise: bool = False  # also changes the ignore rules set aside (hidden unless asked)

    @classmethod
    def from_query(cls, params: Any, *, looked_at: str | None = None) -> Filters:
        """From URL query parameters; a bad value is a ValueError naming the parameter."""
        def text(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            return value or None

        site = text("site")
        kind, state, sort = text("kind"), text("state"), text("sort") or "newest"
        if kind and kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if state and state not in notes.STATES:
            raise ValueError(f"state must be one of {', '.join(notes.STATES)}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        since = _date(text("since"), "since")
        if text("new") and looked_at:  # "since I last looked"
            since = max(since or "", looked_at)
        page = text("page") or "1"
        if not page.isdigit() or int(page) < 1:
            raise ValueError("page must be a number from 1")
        if site is not None and not site.isdigit():
            raise ValueError("site must be a site id (as /sites lists them)")
        q = text("q")
        if q and not text_query(q):
            raise ValueError("q must contain a word (a letter or digit) to search for")
        return cls(site=int(site) if site else None, kind=kind, state=state,
                   label=text("label"), q=q, since=since, until=_date(text("until"),
                   "until"), sort=sort, page=int(page), noise=bool(text("noise")))

    def without(self, name: str) -> Filters:
        values: dict[str, Any] = {name: None, "page": 1}
        return replace(self, **values)


def _date(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return iso_utc(parse_iso(value if "T" in value else value + "T00:00:00Z"))
    except ValueError:
        raise ValueError(f"{name} must be a date such as 2026-11-27") from None


def text_query(q: str) -> str:
    """An FTS5 query for the words of ``q``, every word a quoted string token (a prefix), so
    FTS5 syntax in ``q`` (quotes, ``*``, ``-``, ``:``, ``NEAR``, ``OR``...) is plain text."""
    words = [w for w in q.split() if any(ch.isalnum() for ch in w)]
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _text_match(q: str, change_id: Any) -> ColumnElement[bool]:
    """``change_id`` is of a change whose text matches ``q`` (FTS5 on SQLite)."""
    matches: Select[Any] = (select(literal_column("rowid")).select_from(table(s.REVIEW_FTS))
               .where(literal_column(s.REVIEW_FTS).op("MATCH")(text_query(q))))
    return change_id.in_(matches)


def _where(f: Filters, fts: bool, *, facets: bool = True,
           search: bool = True) -> list[ColumnElement[bool]]:
    """The conditions of ``f``; without site, kind and state when ``facets`` is false, without
    the text search when ``search`` is false."""
    ri = s.review_index.c
    where: list[ColumnElement[bool]] = []
    if facets and f.site is not None:
        where.append(ri.site_id == f.site)
    if facets and f.kind:
        where.append(ri.kind == f.kind)
    if facets and f.state:
        where.append(ri.state == f.state)
    if f.since:
        where.append(ri.detected_at >= f.since)
    if f.until:
        where.append(ri.detected_at < f.until)
    if f.q and fts and search:
        # The unary + keeps the planner scanning a (covering) index and probing the match
        # list, rather than reading ~every wide row by rowid.
        where.append(_text_match(f.q, literal_column("+review_index.change_id")))
    elif f.q and search:
        # Any other engine (PostgreSQL among them): a plain LIKE scan of the lower-cased
        # text, correct but slow at scale; a tsvector index there is the engine's equivalent.
        pattern = (
            "%" + f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        where.append(ri.search_text.like(pattern, escape="\\"))
    if not f.noise:  # as `wpwatch changes` without --all: noise stays out of the queue
        c = s.changes.c
        where.append(ri.change_id.not_in(select(c.id).where(c.verdict == "noise")))
    if f.label:
        cl = s.change_labels.c
        where.append(ri.change_id.in_(select(cl.change_id).where(cl.label == f.label)))
    return where


def _base(f: Filters, fts: bool, *columns: Any) -> Select[Any]:
    return select(*columns).select_from(s.review_index).where(and_(True, *_where(f, fts)))


FACETS = ("kind", "site", "state")


def listing(archive: Archive, f: Filters) -> dict[str, Any]:
    """The page of changes ``f`` asks for, the total, and counts per filter value."""
    ri = s.review_index.c
    order = ((ri.priority.desc(), ri.change_id.desc()) if f.sort == "priority"
             else (ri.detected_at.desc(), ri.change_id.desc()))
    with archive.engine.connect() as conn:
        fts = text_search_index(conn)
        # One pass gives the total and the site, kind and state counts: rows grouped by the
        # three, under every other filter; the three are then applied here.
        grouped = conn.execute(
            select(ri.kind, ri.site_id, ri.state, func.count()).select_from(s.review_index)
            .where(and_(True, *_where(f, fts, facets=False)))
            .group_by(ri.kind, ri.site_id, ri.state)).all()
        ids = list(conn.execute(
            _base(f, fts, ri.change_id).order_by(*order).limit(PER_PAGE)
            .offset((f.page - 1) * PER_PAGE)).scalars())
        rows = _rows(conn, ids)
        annotations = notes.annotations_on(conn, ids)
        labelled = conn.execute(_label_counts(f.without("label"), fts)).all()
        label_counts: dict[str, int] = {label: n for label, n in labelled}
    for row in rows:
        row.update(annotations[row["id"]])
    total, counts = _facet_counts(grouped, f)
    counts["label"] = label_counts
    return {"total": total, "changes": rows, "counts": counts, "page": f.page,
            "pages": max(1, -(-total // PER_PAGE))}


def _label_counts(f: Filters, fts: bool) -> Select[Any]:
    """Changes per label under ``f``; the text match applies to the labelled change ids
    directly, so a search alone reads no review_index rows."""
    ri, cl = s.review_index.c, s.change_labels.c
    q = select(cl.label, func.count()).select_from(s.change_labels)
    where = _where(f, fts, search=not fts)
    if where:
        q = q.join(s.review_index, ri.change_id == cl.change_id).where(*where)
    if fts and f.q:
        q = q.where(_text_match(f.q, literal_column("+change_labels.change_id")))
    return q.group_by(cl.label)


def _facet_counts(grouped: Sequence[Any], f: Filters) -> tuple[int, dict[str, dict[str, int]]]:
    """The total of ``f``, and per facet how many changes each of its values would give with
    the other facets' filters kept."""
    wanted = {"kind": f.kind, "site": f.site, "state": f.state}
    total = 0
    counts: dict[str, dict[Any, int]] = {name: {} for name in FACETS}
    for kind, site_id, state, n in grouped:
        values = {"kind": kind, "site": site_id, "state": state}
        missed = {name for name in FACETS if wanted[name] is not None
                  and values[name] != wanted[name]}
        if not missed:
            total += n
        for name in FACETS:
            if not missed - {name}:
                counts[name][values[name]] = counts[name].get(values[name], 0) + n
    out = {name: {str(k) if name == "site" else k: n for k, n in sorted(c.items())}
           for name, c in counts.items()}
    return total, out


def _rows(conn: Any, ids: list[int]) -> list[dict[str, Any]]:
    """Change records as `wpwatch changes --json` gives them, plus ``priority``, in ids' order."""
    if not ids:
        return []
    c, p, st, ri = s.changes.c, s.posts.c, s.sites.c, s.review_index.c
    q = (select(c.id, c.kind, c.fields, c.detected_at, c.from_version_id, c.to_version_id,
                c.round_id, c.site_id, c.verdict, c.scored_fields, c.noise_rules, c.ruleset,
                st.url.label("site"), st.name.label("site_name"), p.type, p.wp_id, p.link,
                p.title, ri.priority)
         .join(s.posts, p.id == c.post_id).join(s.sites, st.id == c.site_id)
         .join(s.review_index, ri.change_id == c.id).where(c.id.in_(ids)))
    found = {r.id: r for r in conn.execute(q)}
    return [_record(found[i]) for i in ids if i in found]


def _record(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "site": r.site, "site_name": r.site_name, "site_id": r.site_id,
        "type": r.type, "wp_id": r.wp_id, "kind": r.kind, "url": r.link, "title": r.title,
        "detected_at": r.detected_at, **scored_fields(r),
        "from_version": r.from_version_id, "to_version": r.to_version_id, "round": r.round_id,
        "priority": r.priority / 100,
    }  # fmt: skip


def one(archive: Archive, change_id: int) -> dict[str, Any] | None:
    """One change record with its working notes and audit trail, or None."""
    with archive.engine.connect() as conn:
        rows = _rows(conn, [change_id])
        if not rows:
            return None
        record = rows[0] | notes.annotations_on(conn, [change_id])[change_id]
        record["audit"] = notes.audit_trail(conn, change_id)
    return record


def sites(archive: Archive, *, counts: bool = True) -> list[dict[str, Any]]:
    """Every archived site with its id and counts of changes, posts and versions; without
    ``counts`` only id, url and name (the queue's site filter, which has its own counts)."""
    st, c, p = s.sites.c, s.changes.c, s.posts.c
    if not counts:
        with archive.engine.connect() as conn:
            rows = conn.execute(select(st.id, st.url, st.name).order_by(st.id)).all()
        return [{"id": r.id, "url": r.url, "name": r.name} for r in rows]
    with archive.engine.connect() as conn:
        changes: dict[int, int] = dict(
            conn.execute(select(c.site_id, func.count()).group_by(c.site_id)).all())
        posts: dict[int, dict[str, int]] = {}
        for site_id, state, n in conn.execute(
                select(p.site_id, p.state, func.count()).group_by(p.site_id, p.state)):
            posts.setdefault(site_id, {})[state] = n
        rows = conn.execute(select(st.id, st.url, st.name).order_by(st.id)).all()
    return [{"id": r.id, "url": r.url, "name": r.name, "changes": changes.get(r.id, 0),
             "posts": posts.get(r.id, {})} for r in rows]
