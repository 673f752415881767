"""Read-only questions for reports: a stored version with its raw record, a change with its
versions and evidence, the changes of a period.

The archive stores no taxonomy terms yet: term names come from the raw records themselves
(``_embedded`` when fetched with ``_embed``, slugs from ``class_list``; see
``diffs.report.known_term_names``), ids otherwise.

Plain functions over an :class:`~archive.store.Archive`; nothing here writes. A version's raw
REST record is read back from the evidence: the response body it came from, decompressed,
JSON-parsed, and its ``[item_index]`` (the whole object when ``item_index`` is NULL).

Versions are shown to users by their place among their post's versions (``number``: v1, v2,
… in the order they were stored), with the archive-wide ``id`` beside it where a command
needs it (`wpwatch diff` takes ids).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.coverage import presence
from archive.store import Archive


@dataclass(frozen=True)
class StoredVersion:
    id: int
    post_id: int
    site: str
    site_name: str | None
    type: str
    wp_id: int
    number: int  # its place among its post's versions: 1 for the first one stored
    normalized: dict[str, Any]
    raw: dict[str, Any] | None  # the post as WordPress sent it; None if unreadable
    content_hash: str
    fetched_at: str
    modified_gmt: str | None
    response_id: int
    response_url: str
    response_sha256: str


@dataclass(frozen=True)
class StoredResponse:
    id: int
    url: str
    status: int
    fetched_at: str
    sha256: str
    code: str | None  # the REST error code in a JSON error body ("rest_post_invalid_id")


@dataclass(frozen=True)
class StoredChange:
    id: int
    kind: str
    site: str
    site_name: str | None
    type: str
    wp_id: int
    url: str | None  # the post's link as the archive knows it now
    title: str | None
    detected_at: str
    first_seen: str  # when the post was first seen (ISO UTC): tells a back-dated new post
    fields: list[str]
    old: StoredVersion | None  # from_version (the last version, for a gone post)
    new: StoredVersion | None  # to_version
    evidence: StoredResponse | None  # why a post counts as gone
    verdict: str = "change"  # "noise": every changed field set aside by the ignore rules
    noise_rules: tuple[str, ...] = ()  # the rules that made it noise
    #: revisions WordPress saved up to ``new`` since the version before it (own sites)
    revisions: tuple[dict[str, Any], ...] = ()
    presence: dict[str, Any] | None = None  # archive.coverage.presence: rounds around it


class _Reader:
    """One connection and a cache of parsed response bodies (a listing holds 100 posts)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.bodies: dict[int, Any] = {}

    def version(self, version_id: int | None) -> StoredVersion | None:
        if version_id is None:
            return None
        v, p, st, r = s.versions.c, s.posts.c, s.sites.c, s.responses.c
        earlier = s.versions.alias("earlier")
        number = (
            select(func.count())
            .select_from(earlier)
            .where(earlier.c.post_id == v.post_id, earlier.c.id <= v.id)
            .scalar_subquery()
        )
        row = self.conn.execute(
            select(
                v.id,
                v.post_id,
                v.response_id,
                v.item_index,
                v.content_hash,
                v.normalized,
                v.fetched_at,
                v.modified_gmt,
                p.type,
                p.wp_id,
                st.url.label("site"),
                st.name.label("site_name"),
                r.url.label("response_url"),
                r.sha256.label("response_sha256"),
                number.label("number"),
            )
            .join(s.posts, p.id == v.post_id)
            .join(s.sites, st.id == p.site_id)
            .join(s.responses, r.id == v.response_id)
            .where(v.id == version_id)
        ).first()
        if row is None:
            return None
        return StoredVersion(
            id=row.id,
            post_id=row.post_id,
            site=row.site,
            site_name=row.site_name,
            type=row.type,
            wp_id=row.wp_id,
            number=row.number,
            normalized=json.loads(zlib.decompress(row.normalized)),
            raw=self.raw_record(row.response_id, row.item_index),
            content_hash=row.content_hash,
            fetched_at=row.fetched_at,
            modified_gmt=row.modified_gmt,
            response_id=row.response_id,
            response_url=row.response_url,
            response_sha256=row.response_sha256,
        )

    def raw_record(self, response_id: int, item_index: int | None) -> dict[str, Any] | None:
        body = self._body(response_id)
        if item_index is None:
            record = body
        elif isinstance(body, list) and 0 <= item_index < len(body):
            record = body[item_index]
        else:
            return None
        return record if isinstance(record, dict) else None

    def _body(self, response_id: int) -> Any:
        if response_id not in self.bodies:
            blob = self.conn.execute(
                select(s.responses.c.body).where(s.responses.c.id == response_id)
            ).scalar_one()
            try:
                self.bodies[response_id] = json.loads(zlib.decompress(blob))
            except (ValueError, zlib.error):
                self.bodies[response_id] = None
        return self.bodies[response_id]

    def response(self, response_id: int | None) -> StoredResponse | None:
        if response_id is None:
            return None
        r = s.responses.c
        row = self.conn.execute(
            select(r.id, r.url, r.status, r.fetched_at, r.sha256).where(r.id == response_id)
        ).first()
        if row is None:
            return None
        body = self._body(response_id)
        code = body.get("code") if isinstance(body, dict) else None
        return StoredResponse(
            row.id,
            row.url,
            row.status,
            row.fetched_at,
            row.sha256,
            code if isinstance(code, str) else None,
        )

    def changes(self, where: Iterable[Any]) -> list[StoredChange]:
        c, p, st = s.changes.c, s.posts.c, s.sites.c
        q = (
            select(
                c.id,
                c.kind,
                c.fields,
                c.detected_at,
                c.from_version_id,
                c.to_version_id,
                c.response_id,
                c.verdict,
                c.noise_rules,
                c.post_id,
                c.site_id,
                c.round_id,
                st.url.label("site"),
                st.name.label("site_name"),
                p.type,
                p.wp_id,
                p.link,
                p.title,
                p.first_seen,
            )
            .join(s.posts, p.id == c.post_id)
            .join(s.sites, st.id == c.site_id)
            .where(*where)
            .order_by(c.id)
        )
        return [
            StoredChange(
                id=row.id,
                kind=row.kind,
                site=row.site,
                site_name=row.site_name,
                type=row.type,
                wp_id=row.wp_id,
                url=row.link,
                title=row.title,
                detected_at=row.detected_at,
                first_seen=row.first_seen,
                fields=json.loads(row.fields or "[]"),
                old=self.version(row.from_version_id),
                new=self.version(row.to_version_id),
                evidence=self.response(row.response_id),
                verdict=row.verdict or "change",
                noise_rules=tuple(json.loads(row.noise_rules or "[]")),
                revisions=self.revisions(row.post_id, row.to_version_id),
                presence=presence(self.conn, row.site_id, row.kind, row.round_id,
                                  row.detected_at),
            )
            for row in self.conn.execute(q).all()
        ]

    def revisions(self, post_id: int, to_version: int | None) -> tuple[dict[str, Any], ...]:
        """The revisions stored with the round that stored ``to_version`` (after it, before
        the post's next polled version): those WordPress saved up to that version."""
        if to_version is None:
            return ()
        v, rv = s.versions.c, s.revisions.c
        later_poll = self.conn.execute(
            select(func.min(v.id)).where(v.post_id == post_id, v.id > to_version,
                                         v.id.not_in(select(rv.version_id)))
        ).scalar()
        q = select(rv.wp_revision_id, rv.autosave, rv.author_id, rv.author_login, rv.saved_gmt
                   ).where(rv.post_id == post_id, rv.version_id > to_version)
        if later_poll is not None:
            q = q.where(rv.version_id < later_poll)
        return tuple(
            {"id": r.wp_revision_id, "autosave": bool(r.autosave), "author": r.author_id,
             "author_login": r.author_login, "saved_gmt": r.saved_gmt}
            for r in self.conn.execute(q.order_by(rv.saved_gmt, rv.wp_revision_id))
        )


def version(archive: Archive, version_id: int) -> StoredVersion | None:
    """A stored version: its normalized form and the raw record it was read from."""
    with archive.engine.connect() as conn:
        return _Reader(conn).version(version_id)


def change(archive: Archive, change_id: int) -> StoredChange | None:
    """A change with both its versions and, for a gone post, the evidence response."""
    with archive.engine.connect() as conn:
        found = _Reader(conn).changes([s.changes.c.id == change_id])
    return found[0] if found else None


def changes(
    archive: Archive,
    *,
    since: str | None = None,
    site: str | None = None,
    with_noise: bool = False,
) -> list[StoredChange]:
    """Changes detected since ``since`` (ISO UTC), of one site (URL or name), oldest first;
    those scored as noise under the site's ignore rules only ``with_noise``."""
    where: list[Any] = []
    if not with_noise:
        where.append(s.changes.c.verdict.is_(None) | (s.changes.c.verdict != "noise"))
    if since:
        where.append(s.changes.c.detected_at >= since)
    if site:
        where.append((s.sites.c.url == site) | (s.sites.c.name == site))
    with archive.engine.connect() as conn:
        return _Reader(conn).changes(where)
