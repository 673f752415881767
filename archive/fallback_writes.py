"""Degraded-mode writes: posts first seen in the RSS feed or on a post's page while the REST
API was closed, their first REST version when it opens again, and the URLs already looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from archive import codec
from archive import schema as s
from archive.chain import (
    ChainWriter,
)
from archive.records import (
    ChangeListener,
    Compare,
    Outcome,
    PostRecord,
    RawResponse,
)
from archive.writes import (
    StoredResponse,
    insert_change,
    insert_version,
    inserted_id,
    read_post,
    store_response,
)
from core.values import utcnow

#: Fields a version made from the feed or a post's page shares with a REST version,
#: by ``normalized["source"]``: only these are compared when REST opens again.
FALLBACK_FIELDS = {"feed": ("title", "link", "date_gmt"), "page": ("link",)}


def record_fallback_posts(
    conn: Connection,
    listeners: Sequence[ChangeListener],
    *,
    site_id: int,
    round_id: int | None,
    type_: str,
    response: RawResponse,
    records: Iterable[PostRecord],
    baseline: bool,
) -> Outcome:
    """Posts that degraded mode found (feed item or post page): only unknown ones.

    Each becomes a post with one version (its ``normalized["source"]`` says
    where it came from) and a ``new`` change, unless ``baseline``. A post the
    archive knows is left alone: the feed and sitemaps prove nothing about
    edits or removals.
    """
    out = Outcome()
    p = s.posts.c
    chain = ChainWriter(conn, site_id, utcnow())
    chain.lock_site()
    now = chain.now
    stored: StoredResponse | None = None
    for rec in records:
        exists = conn.execute(
            select(p.id).where(p.site_id == site_id, p.type == type_, p.wp_id == rec.wp_id)
        ).first()
        if exists is not None:
            continue
        if stored is None:
            stored = store_response(conn, site_id, response)
        post_id = inserted_id(conn.execute(insert(s.posts).values(
            site_id=site_id, type=type_, wp_id=rec.wp_id, state="published",
            modified_gmt=rec.modified_gmt, date_gmt=rec.date_gmt, link=rec.link,
            title=rec.title, first_seen=now, last_seen=now,
        )))
        version_id = insert_version(chain, post_id, type_, rec, response, stored, 1)
        out.versions += 1
        conn.execute(update(s.posts).where(p.id == post_id)
                     .values(current_version_id=version_id))
        if not baseline:
            cid = insert_change(
                chain, listeners, post_id=post_id, type_=type_, wp_id=rec.wp_id,
                round_id=round_id, kind="new", post_seq=1, to_version=version_id,
                new=rec.normalized,
            )
            out.changes.append((cid, "new"))
    return out


def record_over_fallback(
    conn: Connection,
    listeners: Sequence[ChangeListener],
    *,
    site_id: int,
    round_id: int | None,
    type_: str,
    response: RawResponse,
    records: Iterable[PostRecord],
    compare: Compare,
) -> Outcome:
    """The first REST versions of posts whose current version degraded mode made.

    The REST version is stored and becomes current. It is ``edited`` only
    when the fields both sources carry (FALLBACK_FIELDS) differ, so a post
    first seen in the feed is not reported edited because REST says more.
    """
    out = Outcome()
    p = s.posts.c
    chain = ChainWriter(conn, site_id, utcnow())
    chain.lock_site()
    now = chain.now
    stored: StoredResponse | None = None
    for rec in records:
        row = read_post(conn, site_id, type_, rec.wp_id)
        if row is None or row.current_version_id is None:
            continue
        blob = conn.execute(select(s.versions.c.normalized).where(
            s.versions.c.id == row.current_version_id)).scalar_one()
        prev = codec.unpack(blob)
        shared = FALLBACK_FIELDS.get(str(prev.get("source")), ())
        if not shared:
            continue  # a REST version already: record_posts' business
        if stored is None:
            stored = store_response(conn, site_id, response)
        version_id = insert_version(chain, row.id, type_, rec, response, stored,
                                    row.version_seq + 1)
        out.versions += 1
        conn.execute(update(s.posts).where(p.id == row.id).values(
            current_version_id=version_id, modified_gmt=rec.modified_gmt,
            date_gmt=rec.date_gmt, link=rec.link, title=rec.title, last_seen=now,
            state="published"))
        fields = compare({k: prev.get(k) for k in shared},
                         {k: rec.normalized.get(k) for k in shared})
        if row.state != "published" or fields:
            kind = "restored" if row.state != "published" else "edited"
            cid = insert_change(
                chain, listeners, post_id=row.id, type_=type_, wp_id=rec.wp_id,
                round_id=round_id, kind=kind, post_seq=row.change_seq + 1,
                from_version=row.current_version_id, to_version=version_id, fields=fields,
                old=prev, new=rec.normalized,
            )
            out.changes.append((cid, kind))
    return out


def mark_fallback_seen(conn: Connection, site_id: int, urls: Iterable[str]) -> int:
    """Remember URLs seen by degraded mode (idempotent); how many were new."""
    f = s.fallback_seen.c
    now = utcnow()
    added = 0
    have = set(conn.execute(select(f.url_sha256).where(f.site_id == site_id)).scalars())
    for url in dict.fromkeys(urls):
        key = codec.url_key(url)
        if key in have:
            continue
        have.add(key)
        conn.execute(insert(s.fallback_seen).values(
            site_id=site_id, url=url, url_sha256=key, first_seen=now))
        added += 1
    return added
