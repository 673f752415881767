"""The archive's writes: posts, gone verdicts, degraded-mode posts, each with its chain links.

Every function here works inside the caller's transaction (``conn``), so a
response, the versions it carries, the changes they cause, their chain links
and what change listeners add (the alert outbox) commit together or not at
all. Writes are idempotent: a version is stored only when the normalized
content differs from the post's current version, so a round run twice stores
nothing twice. Each write first takes its site's row lock (PostgreSQL; SQLite
has one writer anyway), so a round re-run by another node while the first run
is still writing waits, then reads what the first committed. Behind that, the
database itself refuses a post's version or change stored twice (unique
``post_id, post_seq``) and an alert queued twice for one route (unique
``channel, change_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, CursorResult

from archive import codec, scoring
from archive import schema as s
from archive.chain import (
    ChainWriter,
    ResponseEvidence,
    change_record,
    headers_sha256,
    version_record,
)
from archive.exceptions import ArchiveError
from archive.records import (
    ChangeEvent,
    ChangeListener,
    Compare,
    Outcome,
    PostRecord,
    RawResponse,
    RevisionRecord,
    Scorer,
    Verdict,
)
from core.values import utcnow

#: A response row as stored: its id and what chain records say about it.
StoredResponse = tuple[int, ResponseEvidence]


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just made."""
    key = result.inserted_primary_key
    if key is None:
        raise ArchiveError("the database did not return the id of a new row")
    return int(key[0])


def read_post(conn: Connection, site_id: int, type_: str, wp_id: int) -> Any:
    """The post's row, with the numbers of its newest version and change, in one statement
    (one moment, even under READ COMMITTED): what a writer decides from, and the step
    numbers it will claim (``version_seq + 1``, ``change_seq + 1``). A second writer that
    decided from the same moment claims the same numbers and is refused by the unique keys.
    """
    p, v, c = s.posts.c, s.versions.c, s.changes.c
    newest_version = select(func.coalesce(func.max(v.post_seq), 0)).where(v.post_id == p.id)
    newest_change = select(func.coalesce(func.max(c.post_seq), 0)).where(c.post_id == p.id)
    return conn.execute(
        select(p.id, p.state, p.current_version_id,
               newest_version.scalar_subquery().label("version_seq"),
               newest_change.scalar_subquery().label("change_seq"))
        .where(p.site_id == site_id, p.type == type_, p.wp_id == wp_id)
    ).first()


def store_response(conn: Connection, site_id: int, resp: RawResponse) -> StoredResponse:
    """Keep a response exactly as received (compressed), with the SHA-256 of its bytes."""
    evidence = ResponseEvidence(
        method=resp.method,
        url=resp.url,
        status=resp.status,
        fetched_at=resp.fetched_at,
        sha256=codec.body_sha256(resp.body),
        size=len(resp.body),
        headers_sha256=headers_sha256(resp.headers),
    )
    res = conn.execute(
        insert(s.responses).values(
            site_id=site_id,
            url=resp.url,
            method=resp.method,
            status=resp.status,
            headers=codec.headers_json(resp.headers),
            body=codec.pack_body(resp.body),
            sha256=evidence.sha256,
            size=evidence.size,
            fetched_at=resp.fetched_at,
            authenticated=resp.authenticated,
        )
    )
    return inserted_id(res), evidence


def insert_version(
    chain: ChainWriter,
    post_id: int,
    type_: str,
    rec: PostRecord,
    response: RawResponse,
    stored: StoredResponse,
    post_seq: int,
    revision: RevisionRecord | None = None,
) -> int:
    """Insert the post's ``post_seq``-th version (and its chain link), pointing into a
    stored response.

    A ``revision`` (a revision WordPress saved) is named in the version's chain record.
    """
    response_id, evidence = stored
    version_id = inserted_id(chain.conn.execute(insert(s.versions).values(
        post_id=post_id, post_seq=post_seq,
        response_id=response_id, item_index=rec.item_index,
        content_hash=rec.content_hash, normalized=codec.pack(rec.normalized),
        modified_gmt=rec.modified_gmt, revision_count=rec.revision_count,
        fetched_at=response.fetched_at,
    )))
    chain.append("version", version_id, version_record(
        site=chain.site_url, type_=type_, wp_id=rec.wp_id, fetched_at=response.fetched_at,
        item_index=rec.item_index, content_hash=rec.content_hash,
        modified_gmt=rec.modified_gmt, revision_count=rec.revision_count, response=evidence,
        revision=revision.as_chain() if revision is not None else None,
    ))
    return version_id


def insert_change(
    chain: ChainWriter,
    listeners: Sequence[ChangeListener],
    *,
    post_id: int,
    type_: str,
    wp_id: int,
    round_id: int | None,
    kind: str,
    post_seq: int,
    from_version: int | None = None,
    to_version: int | None = None,
    response: StoredResponse | None = None,
    fields: Sequence[str] = (),
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    verdict: Verdict | None = None,
    ruleset: str | None = None,
) -> int:
    """Insert the post's ``post_seq``-th change, its chain link and what listeners add
    (same transaction).

    ``response`` is the evidence of a gone post; ``old`` and ``new`` are the
    normalized forms the listeners hear about. ``verdict`` is how the change scores
    under the rule set ``ruleset`` (archive.scoring): beside the change, not chained.
    """
    scored = scoring.columns(verdict, ruleset)
    now = chain.now
    res = chain.conn.execute(
        insert(s.changes).values(
            site_id=chain.site_id,
            post_id=post_id,
            post_seq=post_seq,
            round_id=round_id,
            kind=kind,
            from_version_id=from_version,
            to_version_id=to_version,
            response_id=response[0] if response else None,
            fields=codec.fields_json(fields),
            detected_at=now,
            **scored,
        )
    )
    change_id = inserted_id(res)
    chain.append("change", change_id, change_record(
        site=chain.site_url, type_=type_, wp_id=wp_id, kind=kind, detected_at=now,
        fields=list(fields), from_version=chain.record_hash("version", from_version),
        to_version=chain.record_hash("version", to_version),
        response=response[1] if response else None,
    ))
    if listeners:
        event = ChangeEvent(change_id, chain.site_id, chain.site_url, round_id, type_, wp_id,
                            kind, old, new, noise=scored.get("verdict") == "noise")
        for listener in listeners:
            listener(chain.conn, event)
    return change_id


def record_posts(
    conn: Connection,
    listeners: Sequence[ChangeListener],
    *,
    site_id: int,
    round_id: int | None,
    type_: str,
    response: RawResponse,
    records: Iterable[PostRecord],
    baseline: bool,
    compare: Compare,
    scorer: Scorer | None = None,
) -> Outcome:
    """Store what is new in one fetched response, with its changes.

    A record whose normalized content equals the post's current version only
    refreshes the post's bookkeeping (modified stamp, last seen). Otherwise the
    response is stored (once) and a version points into it. The change kind:
    an unknown post is ``new`` (nothing on a baseline); a post we knew as gone
    is ``restored``; a published post whose content moved is ``edited``.

    ``scorer``: the site's ignore rules; each change records how it scores under them
    (an ``edited`` change is compared again under the rules, both sides re-read from
    their raw records) and a ``noise`` one is not passed to the alerting listeners.
    """
    out = Outcome()
    p = s.posts.c
    chain = ChainWriter(conn, site_id, utcnow())
    chain.lock_site()  # before anything is read or written (the rule set included)
    ruleset = scoring.save_rule_set(conn, scorer) if scorer is not None else None
    bodies: scoring.BodyCache = {}

    def score(kind: str, fields: list[str], from_version: int | None,
              new_raw: Any) -> Verdict | None:
        if scorer is None:
            return None
        old_raw = None
        if scorer and kind == "edited" and fields:
            old_raw = scoring.raw_record(conn, from_version, bodies)
        return scorer.score(kind, fields, old_raw, new_raw)

    now = chain.now
    stored: StoredResponse | None = None
    for rec in records:
        row = read_post(conn, site_id, type_, rec.wp_id)
        version_seq, change_seq = (row.version_seq, row.change_seq) if row else (0, 0)
        prev_hash: str | None = None
        prev_norm: dict[str, Any] | None = None
        if row is not None and row.current_version_id is not None:
            v = conn.execute(
                select(s.versions.c.content_hash, s.versions.c.normalized).where(
                    s.versions.c.id == row.current_version_id
                )
            ).one()
            prev_hash = v.content_hash
            if v.content_hash != rec.content_hash:
                prev_norm = codec.unpack(v.normalized)

        bookkeeping = {
            "modified_gmt": rec.modified_gmt,
            "date_gmt": rec.date_gmt,
            "link": rec.link,
            "title": rec.title,
            "last_seen": now,
            "state": "published",
        }
        if row is not None and prev_hash == rec.content_hash:
            conn.execute(update(s.posts).where(p.id == row.id).values(**bookkeeping))
            if row.state != "published":
                cid = insert_change(
                    chain, listeners, post_id=row.id, type_=type_, wp_id=rec.wp_id,
                    round_id=round_id, kind="restored", post_seq=change_seq + 1,
                    from_version=row.current_version_id,
                    to_version=row.current_version_id, old=rec.normalized, new=rec.normalized,
                    verdict=score("restored", [], None, None), ruleset=ruleset,
                )
                out.changes.append((cid, "restored"))
            continue

        if stored is None:
            stored = store_response(conn, site_id, response)
        if row is None:
            post_id = inserted_id(conn.execute(insert(s.posts).values(
                site_id=site_id, type=type_, wp_id=rec.wp_id, first_seen=now, **bookkeeping,
            )))
        else:
            post_id = row.id
        version_id = insert_version(chain, post_id, type_, rec, response, stored,
                                    version_seq + 1)
        out.versions += 1
        conn.execute(
            update(s.posts)
            .where(p.id == post_id)
            .values(current_version_id=version_id, **bookkeeping)
        )
        if row is None:
            if not baseline:
                cid = insert_change(
                    chain, listeners, post_id=post_id, type_=type_, wp_id=rec.wp_id,
                    round_id=round_id, kind="new", post_seq=1, to_version=version_id,
                    new=rec.normalized, verdict=score("new", [], None, None), ruleset=ruleset,
                )
                out.changes.append((cid, "new"))
            continue
        fields = compare(prev_norm or {}, rec.normalized) if prev_norm is not None else []
        kind = "restored" if row.state != "published" else "edited"
        cid = insert_change(
            chain, listeners, post_id=post_id, type_=type_, wp_id=rec.wp_id, round_id=round_id,
            kind=kind, post_seq=change_seq + 1, from_version=row.current_version_id,
            to_version=version_id, fields=fields, old=prev_norm, new=rec.normalized,
            verdict=score(kind, fields, row.current_version_id, rec.raw), ruleset=ruleset,
        )
        out.changes.append((cid, kind))
    return out


def record_gone(
    conn: Connection,
    listeners: Sequence[ChangeListener],
    *,
    site_id: int,
    round_id: int | None,
    type_: str,
    wp_id: int,
    kind: str,
    response: RawResponse,
) -> Outcome:
    """A published post answered 404 (``deleted``) or 401/403 (``unpublished``)."""
    if kind not in ("deleted", "unpublished"):
        raise ValueError(kind)
    out = Outcome()
    state = kind
    p = s.posts.c
    now = utcnow()
    chain = ChainWriter(conn, site_id, now)
    chain.lock_site()
    row = read_post(conn, site_id, type_, wp_id)
    if row is None or row.state == state:
        return out
    stored = store_response(conn, site_id, response)
    conn.execute(update(s.posts).where(p.id == row.id).values(state=state, last_seen=now))
    last: dict[str, Any] | None = None
    if listeners and row.current_version_id is not None:
        blob = conn.execute(
            select(s.versions.c.normalized).where(s.versions.c.id == row.current_version_id)
        ).scalar()
        last = codec.unpack(blob) if blob is not None else None
    cid = insert_change(
        chain, listeners, post_id=row.id, type_=type_, wp_id=wp_id, round_id=round_id,
        kind=kind, post_seq=row.change_seq + 1, from_version=row.current_version_id,
        response=stored, old=last,
    )
    out.changes.append((cid, kind))
    return out


def record_revisions(
    conn: Connection, *, site_id: int, type_: str, wp_id: int,
    revisions: Iterable[RevisionRecord],
) -> int:
    """Revisions WordPress saved of one post, each its own version in the chain; how many
    were new.

    They sit beside the versions our polls stored and never become the post's
    current version (the poll's version says what the post is now). A revision
    already stored (same id and save time) is skipped, so a round run twice
    stores nothing twice. The post must be stored already (its poll comes first).
    """
    rv = s.revisions.c
    chain = ChainWriter(conn, site_id, utcnow())
    chain.lock_site()
    post = read_post(conn, site_id, type_, wp_id)
    if post is None:
        raise ArchiveError(f"revisions of {type_}/{wp_id}, a post not in the archive")
    post_id, version_seq = post.id, post.version_seq
    added = 0
    for rev in sorted(revisions, key=lambda r: (r.saved_gmt, r.wp_revision_id)):
        exists = conn.execute(select(rv.version_id).where(
            rv.post_id == post_id, rv.wp_revision_id == rev.wp_revision_id,
            rv.saved_gmt == rev.saved_gmt)).first()
        if exists is not None:
            continue
        stored = store_response(conn, site_id, rev.response)
        version_seq += 1  # numbered with the polled versions, in the order stored
        version_id = insert_version(chain, post_id, type_, rev.record, rev.response, stored,
                                    version_seq, revision=rev)
        conn.execute(insert(s.revisions).values(
            version_id=version_id, post_id=post_id, wp_revision_id=rev.wp_revision_id,
            autosave=rev.autosave, author_id=rev.author_id, author_login=rev.author_login,
            saved_gmt=rev.saved_gmt,
        ))
        added += 1
    return added
