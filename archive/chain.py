"""The per-site hash chain: what each link covers and how links are made.

Every stored version and every change record of a site gets one link, in the
order it was written, numbered by a per-site sequence (1, 2, 3 …). A link holds

* ``canonical``: the record's canonical form, a JSON object (keys sorted, no
  spaces, UTF-8) naming the site, the post (type, wp id), the time, and the
  evidence: the request (method, URL) and the SHA-256 of the raw response
  bytes with the record's index in that response (a listing response carries
  up to 100 posts, so several versions share one response);
* ``record_hash`` = SHA-256 of ``canonical``;
* ``prev_hash``: the previous link's ``chain_hash`` (64 zeros for the first);
* ``chain_hash`` = SHA-256 of ``"wpwatch-chain/1|{seq}|{prev_hash}|{record_hash}"``.

So the newest ``chain_hash`` (the head) commits to every record of the site
before it; a trusted timestamp of the head (archive/tsa.py) fixes all of them
in time. A link is written in the same transaction as its record, at most
once per record (unique record + id), and never forks (unique site + seq).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from archive import schema as s
from core.values import canonical_json

CHAIN_FORMAT = "wpwatch-chain/1"
GENESIS = "0" * 64


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def headers_sha256(headers: Iterable[Sequence[str]]) -> str:
    """SHA-256 of a response's header list ([name, value] pairs, in received order)."""
    return sha256_hex(canonical_json([list(h) for h in headers]))


def link_hash(seq: int, prev_hash: str, record_hash: str) -> str:
    return sha256_hex(f"{CHAIN_FORMAT}|{seq}|{prev_hash}|{record_hash}".encode())


@dataclass(frozen=True)
class ResponseEvidence:
    """What a canonical record says about the HTTP response behind it."""

    method: str
    url: str
    status: int
    fetched_at: str
    sha256: str  # of the raw (uncompressed) body
    size: int
    headers_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "fetched_at": self.fetched_at,
            "sha256": self.sha256,
            "size": self.size,
            "headers_sha256": self.headers_sha256,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ResponseEvidence:
        """From a ``responses`` row (``headers`` as stored: a JSON list)."""
        return cls(
            method=row["method"],
            url=row["url"],
            status=int(row["status"]),
            fetched_at=row["fetched_at"],
            sha256=row["sha256"],
            size=int(row["size"]),
            headers_sha256=headers_sha256(json.loads(row["headers"])),
        )


def version_record(
    *,
    site: str,
    type_: str,
    wp_id: int,
    fetched_at: str,
    item_index: int | None,
    content_hash: str,
    modified_gmt: str | None,
    revision_count: int | None,
    response: ResponseEvidence,
    revision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The canonical record of a stored version.

    A version that is a revision WordPress saved (own sites) also names the
    revision: its id, whether it is an autosave, its author (id and login) and
    when it was saved; other versions' records are as they always were.
    """
    record = {
        "chain": CHAIN_FORMAT,
        "record": "version",
        "site": site,
        "type": type_,
        "wp_id": wp_id,
        "fetched_at": fetched_at,
        "item_index": item_index,
        "content_hash": content_hash,
        "modified_gmt": modified_gmt,
        "revision_count": revision_count,
        "response": response.as_dict(),
    }
    if revision is not None:
        record["revision"] = dict(revision)
    return record


def change_record(
    *,
    site: str,
    type_: str,
    wp_id: int,
    kind: str,
    detected_at: str,
    fields: list[str],
    from_version: str | None,
    to_version: str | None,
    response: ResponseEvidence | None,
) -> dict[str, Any]:
    """The canonical record of a change; versions are named by their record hashes."""
    return {
        "chain": CHAIN_FORMAT,
        "record": "change",
        "site": site,
        "type": type_,
        "wp_id": wp_id,
        "kind": kind,
        "detected_at": detected_at,
        "fields": list(fields),
        "from_version": from_version,
        "to_version": to_version,
        "response": response.as_dict() if response else None,
    }


@dataclass(frozen=True)
class Link:
    site_id: int
    seq: int
    record: str  # "version" | "change"
    record_id: int
    canonical: str
    record_hash: str
    prev_hash: str
    chain_hash: str


def make_link(
    site_id: int,
    seq: int,
    prev_hash: str,
    record: str,
    record_id: int,
    canonical: Mapping[str, Any],
) -> Link:
    text = canonical_json(canonical)
    record_hash = sha256_hex(text)
    return Link(
        site_id=site_id,
        seq=seq,
        record=record,
        record_id=record_id,
        canonical=text.decode(),
        record_hash=record_hash,
        prev_hash=prev_hash,
        chain_hash=link_hash(seq, prev_hash, record_hash),
    )


class ChainWriter:
    """Appends links for one site inside the caller's transaction.

    Reads the head once (locking the site row where the database can, so two
    writers of one site queue instead of forking), then keeps it in memory.
    """

    def __init__(self, conn: Connection, site_id: int, now: str) -> None:
        self.conn = conn
        self.site_id = site_id
        self.now = now
        self._site_url: str | None = None
        self._head: tuple[int, str] | None = None
        self._hashes: dict[tuple[str, int], str] = {}

    @property
    def site_url(self) -> str:
        if self._site_url is None:
            self._site_url = self.conn.execute(
                select(s.sites.c.url).where(s.sites.c.id == self.site_id).with_for_update()
            ).scalar_one()
        return self._site_url

    def lock_site(self) -> None:
        """Take the site row's lock now, before the caller reads what it will write.

        On PostgreSQL a second writer of the same site (a round re-run by another
        node) then waits here and afterwards reads what the first one committed,
        instead of writing the same step of a post's history a second time.
        """
        _ = self.site_url

    def head(self) -> tuple[int, str]:
        if self._head is None:
            _ = self.site_url  # takes the site row lock first
            self._head = chain_head(self.conn, self.site_id) or (0, GENESIS)
        return self._head

    def append(self, record: str, record_id: int, canonical: Mapping[str, Any]) -> Link:
        seq, prev = self.head()
        link = make_link(self.site_id, seq + 1, prev, record, record_id, canonical)
        self.conn.execute(insert(s.chain_links).values(**asdict(link), chained_at=self.now))
        self._head = (link.seq, link.chain_hash)
        self._hashes[(record, record_id)] = link.record_hash
        return link

    def record_hash(self, record: str, record_id: int | None) -> str | None:
        """The record hash a link gave that record (None when there is none)."""
        if record_id is None:
            return None
        key = (record, record_id)
        if key not in self._hashes:
            lc = s.chain_links.c
            found = self.conn.execute(
                select(lc.record_hash).where(lc.record == record, lc.record_id == record_id)
            ).scalar()
            if found is None:
                return None
            self._hashes[key] = found
        return self._hashes[key]


def snapshot(conn: Connection) -> Connection:
    """Make every read on a fresh connection see one moment of the archive.

    verify and export read versions, changes and links in several queries while
    a round may be writing; without one snapshot a record committed in between
    would look like one added outside wpwatch. PostgreSQL: REPEATABLE READ.
    SQLite: pysqlite starts no transaction before a SELECT, so begin one; in WAL
    mode its first read fixes the snapshot. Call before the first query.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")
    else:
        conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def chain_head(conn: Connection, site_id: int) -> tuple[int, str] | None:
    """(seq, chain_hash) of a site's newest link, or None for an empty chain."""
    lc = s.chain_links.c
    row = conn.execute(
        select(lc.seq, lc.chain_hash).where(lc.site_id == site_id).order_by(lc.seq.desc()).limit(1)
    ).first()
    return (int(row.seq), row.chain_hash) if row else None


# -- records as they are in the database ------------------------------------------------
def version_records(conn: Connection, site_id: int) -> dict[int, dict[str, Any]]:
    """The canonical record of every version of a site, recomputed from its rows."""
    v, p, r, rv = s.versions.c, s.posts.c, s.responses.c, s.revisions.c
    site = conn.execute(select(s.sites.c.url).where(s.sites.c.id == site_id)).scalar_one()
    rows = conn.execute(
        select(
            v.id, v.fetched_at, v.item_index, v.content_hash, v.modified_gmt, v.revision_count,
            p.type, p.wp_id, r.method, r.url, r.status, r.fetched_at.label("r_fetched_at"),
            r.sha256, r.size, r.headers, rv.wp_revision_id, rv.autosave, rv.author_id,
            rv.author_login, rv.saved_gmt,
        )
        .join(s.posts, p.id == v.post_id)
        .join(s.responses, r.id == v.response_id, isouter=True)
        .join(s.revisions, rv.version_id == v.id, isouter=True)
        .where(p.site_id == site_id)
    ).mappings()
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        out[row["id"]] = version_record(
            site=site,
            type_=row["type"],
            wp_id=row["wp_id"],
            fetched_at=row["fetched_at"],
            item_index=row["item_index"],
            content_hash=row["content_hash"],
            modified_gmt=row["modified_gmt"],
            revision_count=row["revision_count"],
            response=_evidence(row),
            revision=None if row["wp_revision_id"] is None else {
                "id": row["wp_revision_id"], "autosave": bool(row["autosave"]),
                "author": row["author_id"], "author_login": row["author_login"],
                "saved_gmt": row["saved_gmt"],
            },
        )
    return out


def change_records(
    conn: Connection, site_id: int, version_hashes: Mapping[int, str]
) -> dict[int, dict[str, Any]]:
    """The canonical record of every change of a site; versions named through version_hashes."""
    c, p, r = s.changes.c, s.posts.c, s.responses.c
    site = conn.execute(select(s.sites.c.url).where(s.sites.c.id == site_id)).scalar_one()
    rows = conn.execute(
        select(
            c.id, c.kind, c.detected_at, c.fields, c.from_version_id, c.to_version_id,
            c.response_id, p.type, p.wp_id, r.method, r.url, r.status,
            r.fetched_at.label("r_fetched_at"), r.sha256, r.size, r.headers,
        )
        .join(s.posts, p.id == c.post_id, isouter=True)
        .join(s.responses, r.id == c.response_id, isouter=True)
        .where(c.site_id == site_id)
    ).mappings()
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        out[row["id"]] = change_record(
            site=site,
            type_=row["type"],
            wp_id=row["wp_id"],
            kind=row["kind"],
            detected_at=row["detected_at"],
            fields=json.loads(row["fields"]),
            from_version=_ref(version_hashes, row["from_version_id"]),
            to_version=_ref(version_hashes, row["to_version_id"]),
            response=_evidence(row) if row["response_id"] is not None else None,
        )
    return out


def _ref(hashes: Mapping[int, str], version_id: int | None) -> str | None:
    if version_id is None:
        return None
    return hashes.get(version_id, f"missing version {version_id}")


def _evidence(row: Mapping[Any, Any]) -> ResponseEvidence:
    if row["sha256"] is None:  # the response row is gone: say so in the record
        return ResponseEvidence("", "(missing response)", 0, "", "", 0, "")
    return ResponseEvidence.from_row({**row, "fetched_at": row["r_fetched_at"]})


def chain_unlinked(conn: Connection, now: str) -> int:
    """Give every record that has no link one, per site, oldest first (migration 3).

    Order: versions by ``fetched_at``, changes by ``detected_at``; on equal
    times a version before a change, then by id. Returns the links made.
    """
    lc = s.chain_links.c
    made = 0
    for site_id in conn.execute(select(s.sites.c.id).order_by(s.sites.c.id)).scalars():
        linked = {(r.record, r.record_id): r.record_hash for r in conn.execute(
            select(lc.record, lc.record_id, lc.record_hash).where(lc.site_id == site_id))}
        versions = version_records(conn, site_id)
        version_hashes = {
            vid: linked.get(("version", vid)) or sha256_hex(canonical_json(rec))
            for vid, rec in versions.items()
        }
        changes = change_records(conn, site_id, version_hashes)
        todo = sorted(
            [(rec["fetched_at"], 0, vid, "version", rec) for vid, rec in versions.items()
             if ("version", vid) not in linked]
            + [(rec["detected_at"], 1, cid, "change", rec) for cid, rec in changes.items()
               if ("change", cid) not in linked],
            key=lambda t: (t[0], t[1], t[2]),
        )
        writer = ChainWriter(conn, site_id, now)
        for _, _, record_id, record, canonical in todo:
            writer.append(record, record_id, canonical)
            made += 1
    return made
