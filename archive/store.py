"""The archive: one narrow interface over an SQLAlchemy Core engine.

SQLite (WAL) by default, any SQLAlchemy URL otherwise. Every write that
belongs together (a response, the versions it carries and the changes they
cause) happens in one transaction, so a killed process leaves either all of
it or none of it. Writes are idempotent: a version is stored only when the
normalized content differs from the post's current version, so a round run
twice stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from archive import schema as s
from archive.chain import (
    ChainWriter,
    ResponseEvidence,
    chain_unlinked,
    change_record,
    headers_sha256,
    version_record,
)
from archive.chain import chain_head as _chain_head
from archive.exceptions import ArchiveError
from wpwatch.values import KINDS, canonical_json, utcnow

SCHEMA_VERSION = 5

# 5: degraded mode (REST API closed). Every post URL the RSS feed or the core
# sitemaps showed, so that only URLs that appear later are looked at as new.
fallback_seen = Table(
    "fallback_seen",
    s.metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("url_sha256", String(64), nullable=False),  # unique key (URLs can be long)
    Column("first_seen", String(32), nullable=False),
    UniqueConstraint("site_id", "url_sha256"),
)

#: Fields a version made from the feed or a post's page shares with a REST version,
#: by ``normalized["source"]``: only these are compared when REST opens again.
FALLBACK_FIELDS = {"feed": ("title", "link", "date_gmt"), "page": ("link",)}


def db_url(path_or_url: str) -> str:
    """Accept a plain path (SQLite file) or an SQLAlchemy URL."""
    if "://" in path_or_url:
        return path_or_url
    return "sqlite:///" + str(Path(path_or_url).expanduser())


@dataclass(frozen=True)
class RawResponse:
    """An HTTP response as received: the evidence behind versions."""

    url: str
    status: int
    headers: Sequence[tuple[str, str]] = field(repr=False)
    body: bytes = field(repr=False)
    fetched_at: str = ""
    method: str = "GET"


@dataclass(frozen=True)
class PostRecord:
    """One post as fetched, already normalized by diffs.normalize."""

    wp_id: int
    item_index: int | None
    normalized: dict[str, Any]
    content_hash: str
    modified_gmt: str | None
    date_gmt: str | None
    link: str | None
    title: str | None
    revision_count: int | None = None


@dataclass(frozen=True)
class ChangeEvent:
    """What a change listener (the alert outbox) hears, inside the change's transaction."""

    change_id: int
    site_id: int
    site_url: str
    round_id: int | None
    type: str
    wp_id: int
    kind: str
    old: dict[str, Any] | None  # normalized form before, if any
    new: dict[str, Any] | None  # normalized form after, if any


@dataclass
class KnownPost:
    state: str
    modified_gmt: str | None
    date_gmt: str | None


@dataclass
class TypeState:
    type: str
    slug: str | None = None
    baselined: bool = False
    modified_watermark: str | None = None
    date_watermark: str | None = None
    max_id: int | None = None
    last_total: int | None = None


@dataclass
class Outcome:
    """What one write did, for the round's counters."""

    changes: list[tuple[int, str]] = field(default_factory=list)  # (change id, kind)
    versions: int = 0


def _pack(obj: Any) -> bytes:
    return zlib.compress(canonical_json(obj), 6)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class Archive:
    """Stores sites, responses, versions, changes and rounds; answers questions."""

    def __init__(self, path_or_url: str) -> None:
        url = db_url(path_or_url)
        self.url = url
        # Called as listener(conn, ChangeEvent) inside the transaction that stores
        # each change, so what they write (the alert outbox) commits with it.
        self.change_listeners: list[Callable[[Connection, ChangeEvent], None]] = []
        try:
            self.engine: Engine = create_engine(url)
        except Exception as exc:  # bad URL, missing driver
            raise ArchiveError(f"cannot open archive {path_or_url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except Exception as exc:
            raise ArchiveError(f"cannot open archive {path_or_url!r}: {exc}") from exc

    # -- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        """Numbered migrations, each in a transaction; an old archive opens."""
        with self.engine.begin() as conn:
            s.schema_version.create(conn, checkfirst=True)
            current = conn.execute(select(func.max(s.schema_version.c.version))).scalar() or 0
            if current > SCHEMA_VERSION:
                raise ArchiveError(
                    f"archive schema {current} is newer than this wpwatch ({SCHEMA_VERSION})"
                )
            if current < 1:  # a new archive: every table at once
                s.metadata.create_all(conn)
                current = SCHEMA_VERSION
                conn.execute(
                    insert(s.schema_version).values(version=current, applied_at=utcnow())
                )
            if current < 2:  # 2: the daemon's schedule, for `wpwatch status`
                s.schedule.create(conn, checkfirst=True)
                conn.execute(insert(s.schema_version).values(version=2, applied_at=utcnow()))
            if current < 3:  # 3: the per-site hash chain over every record so far
                s.chain_links.create(conn, checkfirst=True)
                s.chain_stamps.create(conn, checkfirst=True)
                chain_unlinked(conn, utcnow())
                conn.execute(insert(s.schema_version).values(version=3, applied_at=utcnow()))
            if current < 4:  # 4: the alert outbox
                s.alerts.create(conn, checkfirst=True)
                conn.execute(insert(s.schema_version).values(version=4, applied_at=utcnow()))
            if current < 5:  # 5: URLs seen by degraded mode (feed and sitemaps)
                fallback_seen.create(conn, checkfirst=True)
                conn.execute(insert(s.schema_version).values(version=5, applied_at=utcnow()))

    def close(self) -> None:
        self.engine.dispose()

    # -- sites --------------------------------------------------------------------
    def site(self, url: str, name: str | None = None) -> dict[str, Any]:
        """The site row for url, created on first use."""
        with self.engine.begin() as conn:
            row = conn.execute(select(s.sites).where(s.sites.c.url == url)).mappings().first()
            if row is None:
                conn.execute(insert(s.sites).values(url=url, name=name, created_at=utcnow()))
                row = conn.execute(select(s.sites).where(s.sites.c.url == url)).mappings().one()
            elif name and row["name"] != name:
                conn.execute(update(s.sites).where(s.sites.c.id == row["id"]).values(name=name))
            return dict(row)

    def find_site(self, url: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.sites).where(s.sites.c.url == url)).mappings().first()
            return dict(row) if row else None

    def list_sites(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(s.sites).order_by(s.sites.c.id)).mappings()]

    def set_api_root(self, site_id: int, api_root: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(s.sites).where(s.sites.c.id == site_id).values(api_root=api_root))

    # -- round memory -------------------------------------------------------------
    def type_states(self, site_id: int) -> dict[str, TypeState]:
        with self.engine.connect() as conn:
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

    def save_type_state(self, site_id: int, st: TypeState) -> None:
        values = dict(
            slug=st.slug,
            baselined=st.baselined,
            modified_watermark=st.modified_watermark,
            date_watermark=st.date_watermark,
            max_id=st.max_id,
            last_total=st.last_total,
        )
        with self.engine.begin() as conn:
            done = conn.execute(
                update(s.site_types)
                .where(s.site_types.c.site_id == site_id, s.site_types.c.type == st.type)
                .values(**values)
            )
            if done.rowcount == 0:
                conn.execute(insert(s.site_types).values(site_id=site_id, type=st.type, **values))

    def known_posts(self, site_id: int, type_: str) -> dict[int, KnownPost]:
        p = s.posts.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(p.wp_id, p.state, p.modified_gmt, p.date_gmt).where(
                    p.site_id == site_id, p.type == type_
                )
            )
            return {r.wp_id: KnownPost(r.state, r.modified_gmt, r.date_gmt) for r in rows}

    # -- rounds ---------------------------------------------------------------------
    def start_round(self, site_id: int, full: bool) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                insert(s.rounds).values(
                    site_id=site_id, full=full, started_at=utcnow(), outcome="running"
                )
            )
            return int(res.inserted_primary_key[0])

    def finish_round(
        self,
        round_id: int,
        *,
        outcome: str,
        requests: int,
        bytes_: int,
        errors: int,
        error: str | None,
    ) -> None:
        with self.engine.begin() as conn:
            kinds = conn.execute(
                select(s.changes.c.kind, func.count())
                .where(s.changes.c.round_id == round_id)
                .group_by(s.changes.c.kind)
            ).all()
            counts = {k: 0 for k in KINDS} | {k: n for k, n in kinds}
            conn.execute(
                update(s.rounds)
                .where(s.rounds.c.id == round_id)
                .values(
                    finished_at=utcnow(),
                    outcome=outcome,
                    requests=requests,
                    bytes=bytes_,
                    errors=errors,
                    error=error,
                    counts=json.dumps(counts),
                )
            )

    def mark_stale_rounds_interrupted(self) -> int:
        """Rounds left 'running' by a killed process are recorded as interrupted."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(s.rounds)
                .where(s.rounds.c.outcome == "running")
                .values(outcome="interrupted", finished_at=utcnow(), error="process ended mid-round")
            )
            return res.rowcount

    def round(self, round_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.rounds).where(s.rounds.c.id == round_id)).mappings().one()
            out = dict(row)
            out["counts"] = json.loads(out["counts"] or "{}")
            return out

    # -- writes -----------------------------------------------------------------------
    def _store_response(
        self, conn: Connection, site_id: int, resp: RawResponse
    ) -> tuple[int, ResponseEvidence]:
        evidence = ResponseEvidence(
            method=resp.method,
            url=resp.url,
            status=resp.status,
            fetched_at=resp.fetched_at,
            sha256=hashlib.sha256(resp.body).hexdigest(),
            size=len(resp.body),
            headers_sha256=headers_sha256(resp.headers),
        )
        res = conn.execute(
            insert(s.responses).values(
                site_id=site_id,
                url=resp.url,
                method=resp.method,
                status=resp.status,
                headers=json.dumps([list(h) for h in resp.headers], ensure_ascii=False),
                body=zlib.compress(resp.body, 6),
                sha256=evidence.sha256,
                size=evidence.size,
                fetched_at=resp.fetched_at,
            )
        )
        return int(res.inserted_primary_key[0]), evidence

    def record_posts(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        response: RawResponse,
        records: Iterable[PostRecord],
        baseline: bool,
        compare: Callable[[dict[str, Any], dict[str, Any]], list[str]],
    ) -> Outcome:
        """Store what is new in one fetched response, with its changes, atomically.

        A record whose normalized content equals the post's current version only
        refreshes the post's bookkeeping (modified stamp, last seen). Otherwise the
        response is stored (once) and a version points into it. The change kind:
        an unknown post is ``new`` (nothing on a baseline); a post we knew as gone
        is ``restored``; a published post whose content moved is ``edited``.
        """
        out = Outcome()
        p = s.posts.c
        now = utcnow()
        with self.engine.begin() as conn:
            chain = ChainWriter(conn, site_id, now)
            stored: tuple[int, ResponseEvidence] | None = None
            for rec in records:
                row = conn.execute(
                    select(p.id, p.state, p.current_version_id).where(
                        p.site_id == site_id, p.type == type_, p.wp_id == rec.wp_id
                    )
                ).first()
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
                        prev_norm = _unpack(v.normalized)

                bookkeeping = dict(
                    modified_gmt=rec.modified_gmt,
                    date_gmt=rec.date_gmt,
                    link=rec.link,
                    title=rec.title,
                    last_seen=now,
                    state="published",
                )
                if row is not None and prev_hash == rec.content_hash:
                    conn.execute(update(s.posts).where(p.id == row.id).values(**bookkeeping))
                    if row.state != "published":
                        cid = self._change(chain, row.id, type_, rec.wp_id, round_id, "restored",
                                           row.current_version_id, row.current_version_id,
                                           None, [], now, rec.normalized, rec.normalized)
                        out.changes.append((cid, "restored"))
                    continue

                if stored is None:
                    stored = self._store_response(conn, site_id, response)
                if row is None:
                    post_id = int(
                        conn.execute(
                            insert(s.posts).values(
                                site_id=site_id,
                                type=type_,
                                wp_id=rec.wp_id,
                                first_seen=now,
                                **bookkeeping,
                            )
                        ).inserted_primary_key[0]
                    )
                else:
                    post_id = row.id
                version_id = self._insert_version(chain, post_id, type_, rec, response, stored)
                out.versions += 1
                conn.execute(
                    update(s.posts)
                    .where(p.id == post_id)
                    .values(current_version_id=version_id, **bookkeeping)
                )
                if row is None:
                    if not baseline:
                        cid = self._change(chain, post_id, type_, rec.wp_id, round_id, "new",
                                           None, version_id, None, [], now, None,
                                           rec.normalized)
                        out.changes.append((cid, "new"))
                    continue
                fields = compare(prev_norm or {}, rec.normalized) if prev_norm is not None else []
                kind = "restored" if row.state != "published" else "edited"
                cid = self._change(chain, post_id, type_, rec.wp_id, round_id, kind,
                                   row.current_version_id, version_id, None, fields, now,
                                   prev_norm, rec.normalized)
                out.changes.append((cid, kind))
        return out

    def record_gone(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        wp_id: int,
        kind: str,
        response: RawResponse,
    ) -> Outcome:
        """A published post answered 404 (deleted) or 401/403 (unpublished)."""
        if kind not in ("deleted", "unpublished"):
            raise ValueError(kind)
        out = Outcome()
        state = kind
        p = s.posts.c
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(p.id, p.state, p.current_version_id).where(
                    p.site_id == site_id, p.type == type_, p.wp_id == wp_id
                )
            ).first()
            if row is None or row.state == state:
                return out
            response_id, evidence = self._store_response(conn, site_id, response)
            conn.execute(update(s.posts).where(p.id == row.id).values(state=state, last_seen=now))
            chain = ChainWriter(conn, site_id, now)
            last: dict[str, Any] | None = None
            if self.change_listeners and row.current_version_id is not None:
                blob = conn.execute(
                    select(s.versions.c.normalized).where(
                        s.versions.c.id == row.current_version_id
                    )
                ).scalar()
                last = _unpack(blob) if blob is not None else None
            cid = self._change(chain, row.id, type_, wp_id, round_id, kind,
                               row.current_version_id, None, (response_id, evidence), [], now,
                               last, None)
            out.changes.append((cid, kind))
        return out

    def _change(
        self,
        chain: ChainWriter,
        post_id: int,
        type_: str,
        wp_id: int,
        round_id: int | None,
        kind: str,
        from_version: int | None,
        to_version: int | None,
        response: tuple[int, ResponseEvidence] | None,
        fields: list[str],
        now: str,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> int:
        """Insert a change, its chain link and what listeners add (same transaction)."""
        res = chain.conn.execute(
            insert(s.changes).values(
                site_id=chain.site_id,
                post_id=post_id,
                round_id=round_id,
                kind=kind,
                from_version_id=from_version,
                to_version_id=to_version,
                response_id=response[0] if response else None,
                fields=json.dumps(fields),
                detected_at=now,
            )
        )
        change_id = int(res.inserted_primary_key[0])
        chain.append("change", change_id, change_record(
            site=chain.site_url, type_=type_, wp_id=wp_id, kind=kind, detected_at=now,
            fields=fields, from_version=chain.record_hash("version", from_version),
            to_version=chain.record_hash("version", to_version),
            response=response[1] if response else None,
        ))
        if self.change_listeners:
            event = ChangeEvent(change_id, chain.site_id, chain.site_url, round_id, type_, wp_id,
                                kind, old, new)
            for listener in self.change_listeners:
                listener(chain.conn, event)
        return change_id

    # -- degraded mode (REST API closed): feed, sitemaps, post pages ----------------------
    def post_links(self, site_id: int) -> dict[tuple[str, int], str | None]:
        """(type, wp_id) → public link, for every post of the site the archive knows."""
        p = s.posts.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(p.type, p.wp_id, p.link).where(p.site_id == site_id))
            return {(r.type, r.wp_id): r.link for r in rows}

    def fallback_seen(self, site_id: int) -> set[str]:
        """Every URL degraded mode has already seen in the site's feed or sitemaps."""
        f = fallback_seen.c
        with self.engine.connect() as conn:
            return set(conn.execute(select(f.url).where(f.site_id == site_id)).scalars())

    def mark_fallback_seen(self, site_id: int, urls: Iterable[str]) -> int:
        """Remember URLs seen by degraded mode (idempotent); how many were new."""
        f = fallback_seen.c
        now = utcnow()
        added = 0
        with self.engine.begin() as conn:
            have = set(conn.execute(select(f.url_sha256).where(f.site_id == site_id)).scalars())
            for url in dict.fromkeys(urls):
                key = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
                if key in have:
                    continue
                have.add(key)
                conn.execute(insert(fallback_seen).values(
                    site_id=site_id, url=url, url_sha256=key, first_seen=now))
                added += 1
        return added

    def fallback_made(self, site_id: int, type_: str, wp_ids: Iterable[int]) -> set[int]:
        """Those of wp_ids whose current version was made by degraded mode, not by REST."""
        ids = list(wp_ids)
        if not ids:
            return set()
        p, v = s.posts.c, s.versions.c
        out: set[int] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(p.wp_id, v.normalized)
                    .join(s.versions, v.id == p.current_version_id)
                    .where(p.site_id == site_id, p.type == type_,
                           p.wp_id.in_(ids[start : start + 500]))
                )
                out |= {r.wp_id for r in rows if _unpack(r.normalized).get("source")}
        return out

    def record_fallback_posts(
        self,
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
        now = utcnow()
        with self.engine.begin() as conn:
            chain = ChainWriter(conn, site_id, now)
            stored: tuple[int, ResponseEvidence] | None = None
            for rec in records:
                exists = conn.execute(
                    select(p.id).where(p.site_id == site_id, p.type == type_, p.wp_id == rec.wp_id)
                ).first()
                if exists is not None:
                    continue
                if stored is None:
                    stored = self._store_response(conn, site_id, response)
                post_id = int(conn.execute(insert(s.posts).values(
                    site_id=site_id, type=type_, wp_id=rec.wp_id, state="published",
                    modified_gmt=rec.modified_gmt, date_gmt=rec.date_gmt, link=rec.link,
                    title=rec.title, first_seen=now, last_seen=now,
                )).inserted_primary_key[0])
                version_id = self._insert_version(chain, post_id, type_, rec, response, stored)
                out.versions += 1
                conn.execute(update(s.posts).where(p.id == post_id)
                             .values(current_version_id=version_id))
                if not baseline:
                    cid = self._change(chain, post_id, type_, rec.wp_id, round_id, "new", None,
                                       version_id, None, [], now, None, rec.normalized)
                    out.changes.append((cid, "new"))
        return out

    def record_over_fallback(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        response: RawResponse,
        records: Iterable[PostRecord],
        compare: Callable[[dict[str, Any], dict[str, Any]], list[str]],
    ) -> Outcome:
        """The first REST versions of posts whose current version degraded mode made.

        The REST version is stored and becomes current. It is ``edited`` only
        when the fields both sources carry (FALLBACK_FIELDS) differ, so a post
        first seen in the feed is not reported edited because REST says more.
        """
        out = Outcome()
        p = s.posts.c
        now = utcnow()
        with self.engine.begin() as conn:
            chain = ChainWriter(conn, site_id, now)
            stored: tuple[int, ResponseEvidence] | None = None
            for rec in records:
                row = conn.execute(
                    select(p.id, p.state, p.current_version_id).where(
                        p.site_id == site_id, p.type == type_, p.wp_id == rec.wp_id)
                ).first()
                if row is None or row.current_version_id is None:
                    continue
                blob = conn.execute(select(s.versions.c.normalized).where(
                    s.versions.c.id == row.current_version_id)).scalar_one()
                prev = _unpack(blob)
                shared = FALLBACK_FIELDS.get(str(prev.get("source")), ())
                if not shared:
                    continue  # a REST version already: record_posts' business
                if stored is None:
                    stored = self._store_response(conn, site_id, response)
                version_id = self._insert_version(chain, row.id, type_, rec, response, stored)
                out.versions += 1
                conn.execute(update(s.posts).where(p.id == row.id).values(
                    current_version_id=version_id, modified_gmt=rec.modified_gmt,
                    date_gmt=rec.date_gmt, link=rec.link, title=rec.title, last_seen=now,
                    state="published"))
                fields = compare({k: prev.get(k) for k in shared},
                                 {k: rec.normalized.get(k) for k in shared})
                if row.state != "published" or fields:
                    kind = "restored" if row.state != "published" else "edited"
                    cid = self._change(chain, row.id, type_, rec.wp_id, round_id, kind,
                                       row.current_version_id, version_id, None, fields, now,
                                       prev, rec.normalized)
                    out.changes.append((cid, kind))
        return out

    def _insert_version(
        self,
        chain: ChainWriter,
        post_id: int,
        type_: str,
        rec: PostRecord,
        response: RawResponse,
        stored: tuple[int, ResponseEvidence],
    ) -> int:
        """Insert one version (and its chain link) pointing into a stored response."""
        response_id, evidence = stored
        version_id = int(chain.conn.execute(insert(s.versions).values(
            post_id=post_id, response_id=response_id, item_index=rec.item_index,
            content_hash=rec.content_hash, normalized=_pack(rec.normalized),
            modified_gmt=rec.modified_gmt, revision_count=rec.revision_count,
            fetched_at=response.fetched_at,
        )).inserted_primary_key[0])
        chain.append("version", version_id, version_record(
            site=chain.site_url, type_=type_, wp_id=rec.wp_id, fetched_at=response.fetched_at,
            item_index=rec.item_index, content_hash=rec.content_hash,
            modified_gmt=rec.modified_gmt, revision_count=rec.revision_count, response=evidence,
        ))
        return version_id

    # -- questions ----------------------------------------------------------------------
    def changes(
        self,
        *,
        since: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Change records in the JSON contract's shape, oldest first."""
        c, p, st = s.changes.c, s.posts.c, s.sites.c
        q = (
            select(
                c.id, c.kind, c.fields, c.detected_at, c.from_version_id, c.to_version_id,
                c.round_id, st.url.label("site"), st.name.label("site_name"),
                p.type, p.wp_id, p.link, p.title,
            )
            .join(s.posts, p.id == c.post_id)
            .join(s.sites, st.id == c.site_id)
            .order_by(c.id)
        )
        if since:
            q = q.where(c.detected_at >= since)
        if site:
            q = q.where((st.url == site) | (st.name == site))
        if kind:
            q = q.where(c.kind == kind)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [
                {
                    "id": r.id,
                    "site": r.site,
                    "site_name": r.site_name,
                    "type": r.type,
                    "wp_id": r.wp_id,
                    "kind": r.kind,
                    "url": r.link,
                    "title": r.title,
                    "detected_at": r.detected_at,
                    "fields": json.loads(r.fields),
                    "from_version": r.from_version_id,
                    "to_version": r.to_version_id,
                    "round": r.round_id,
                }
                for r in conn.execute(q)
            ]

    def history(self, site_url: str, type_: str, wp_id: int) -> dict[str, Any] | None:
        """A post and all its stored versions, oldest first."""
        p, v, r = s.posts.c, s.versions.c, s.responses.c
        with self.engine.connect() as conn:
            post = conn.execute(
                select(s.posts, s.sites.c.url.label("site"))
                .join(s.sites, s.sites.c.id == p.site_id)
                .where(s.sites.c.url == site_url, p.type == type_, p.wp_id == wp_id)
            ).mappings().first()
            if post is None:
                return None
            rows = conn.execute(
                select(v.id, v.content_hash, v.fetched_at, v.modified_gmt, v.revision_count,
                       v.item_index, r.sha256, r.url, r.status)
                .join(s.responses, r.id == v.response_id)
                .where(v.post_id == post["id"])
                .order_by(v.id)
            ).mappings()
            versions = [dict(x) for x in rows]
            chg = conn.execute(
                select(s.changes.c.id, s.changes.c.kind, s.changes.c.detected_at,
                       s.changes.c.fields, s.changes.c.to_version_id)
                .where(s.changes.c.post_id == post["id"])
                .order_by(s.changes.c.id)
            ).mappings()
            changes = [dict(x) | {"fields": json.loads(x["fields"])} for x in chg]
        return {"post": dict(post), "versions": versions, "changes": changes}

    def chain_head(self, site_id: int) -> tuple[int, str] | None:
        """(seq, chain_hash) of the site's newest chain link, None before its first record."""
        with self.engine.connect() as conn:
            return _chain_head(conn, site_id)

    def response_body(self, response_id: int) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.responses.c.body).where(s.responses.c.id == response_id)
            ).one()
            return zlib.decompress(row.body)

    def last_rounds(self) -> dict[int, dict[str, Any]]:
        """The newest round of every site, keyed by site id."""
        r = s.rounds.c
        newest = select(r.site_id, func.max(r.id).label("rid")).group_by(r.site_id).subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.rounds).join(newest, newest.c.rid == r.id)
            ).mappings()
            out = {}
            for row in rows:
                d = dict(row)
                d["counts"] = json.loads(d["counts"] or "{}")
                out[d["site_id"]] = d
            return out

    def set_schedule(self, site_url: str, next_due: str | None, next_full_due: str | None) -> None:
        with self.engine.begin() as conn:
            values = dict(next_due=next_due, next_full_due=next_full_due, updated_at=utcnow())
            done = conn.execute(
                update(s.schedule).where(s.schedule.c.site_url == site_url).values(**values)
            )
            if done.rowcount == 0:
                conn.execute(insert(s.schedule).values(site_url=site_url, **values))

    def schedules(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r["site_url"]: dict(r) for r in conn.execute(select(s.schedule)).mappings()}

    def last_round_with(self, site_id: int, outcome: str) -> dict[str, Any] | None:
        r = s.rounds.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(r.started_at, r.finished_at, r.error)
                .where(r.site_id == site_id, r.outcome == outcome)
                .order_by(r.id.desc())
                .limit(1)
            ).mappings().first()
            return dict(row) if row else None

    def errors_in_a_row(self, site_id: int, limit: int = 20) -> int:
        r = s.rounds.c
        with self.engine.connect() as conn:
            outcomes = conn.execute(
                select(r.outcome).where(r.site_id == site_id).order_by(r.id.desc()).limit(limit)
            ).scalars()
            n = 0
            for o in outcomes:
                if o in ("ok", "running", "interrupted"):
                    break
                n += 1
            return n


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
