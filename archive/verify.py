"""`wpwatch verify`: recompute every raw-byte SHA-256 and every site's hash chain.

For each site it walks the chain links in sequence order and checks that

* the links are numbered 1, 2, 3 … without gaps (a gap: records removed
  together with their links), each names the previous link's hash (else:
  links reordered or altered) and its own hashes match its contents;
* the record each link names still exists (else: removed) and still has the
  canonical form the link recorded (else: which field changed, or, when it now
  equals another link's record, that rows were swapped);
* every version and change of the site has a link (else: added afterwards);
* every stored response still decompresses to bytes with the recorded SHA-256,
  and every version's normalized content still has its content hash;
* every RFC 3161 token still stamps a link of the chain (else: the records
  after it were removed or rewritten), over the right hash, and, given the
  authority's root certificates, carries a valid signature.

Problems are sorted by the link where they show; the first is the first broken
link. Nothing here writes to the archive.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.chain import (
    GENESIS,
    Link,
    canonical_json,
    change_records,
    link_hash,
    sha256_hex,
    snapshot,
    version_records,
)
from archive.store import Archive
from archive.tsa import check_token, stamp_message


@dataclass(frozen=True)
class Problem:
    seq: int | None  # the chain link where it shows; None: outside the chain
    what: str

    def __str__(self) -> str:
        return f"link #{self.seq}: {self.what}" if self.seq is not None else self.what


@dataclass
class SiteReport:
    site_id: int
    url: str
    name: str | None
    links: int = 0
    versions: int = 0
    changes: int = 0
    responses: int = 0
    stamps: int = 0
    stamps_signature_checked: bool = False
    head: tuple[int, str] | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.url,
            "name": self.name,
            "ok": self.ok,
            "links": self.links,
            "versions": self.versions,
            "changes": self.changes,
            "responses": self.responses,
            "timestamps": self.stamps,
            "timestamp_signatures_checked": self.stamps_signature_checked,
            "head": {"seq": self.head[0], "chain_hash": self.head[1]} if self.head else None,
            "first_broken_link": self.first_broken.seq if self.first_broken else None,
            "problems": [{"seq": p.seq, "what": p.what} for p in self.problems],
        }


def verify_archive(
    archive: Archive,
    *,
    site_ids: Sequence[int] | None = None,
    tsa_roots: Sequence[Any] | None = None,
) -> list[SiteReport]:
    """Check every site (or the given ones); tsa_roots: the TSA's root certificates."""
    reports = []
    with archive.engine.connect() as conn:
        snapshot(conn)
        sites = conn.execute(select(s.sites).order_by(s.sites.c.id)).mappings().all()
        for site in sites:
            if site_ids is None or site["id"] in site_ids:
                reports.append(verify_site(conn, site, tsa_roots))
        linked_sites = {site["id"] for site in sites}
        if site_ids is None:
            orphans = conn.execute(
                select(s.chain_links.c.site_id).where(s.chain_links.c.site_id.not_in(linked_sites))
            ).first()
            if orphans is not None:
                reports.append(SiteReport(orphans.site_id, f"(site {orphans.site_id})", None,
                                          problems=[Problem(None, f"the chain of site "
                                                    f"{orphans.site_id} has no site row: "
                                                    "the site was removed")]))
    return reports


def verify_site(
    conn: Connection, site: Mapping[Any, Any], tsa_roots: Sequence[Any] | None = None
) -> SiteReport:
    site_id = int(site["id"])
    report = SiteReport(site_id, site["url"], site["name"])
    links = _links(conn, site_id)
    report.links = len(links)
    report.head = (links[-1].seq, links[-1].chain_hash) if links else None
    by_record = {(lk.record, lk.record_id): lk for lk in links}

    versions = version_records(conn, site_id)
    version_hashes = {
        vid: by_record[("version", vid)].record_hash if ("version", vid) in by_record
        else sha256_hex(canonical_json(rec))
        for vid, rec in versions.items()
    }
    changes = change_records(conn, site_id, version_hashes)
    report.versions, report.changes = len(versions), len(changes)
    records: dict[tuple[str, int], dict[str, Any]] = {
        **{("version", k): v for k, v in versions.items()},
        **{("change", k): v for k, v in changes.items()},
    }

    problems = list(_check_links(links, records))
    problems += _check_unlinked(records, by_record)
    seq_of_response = _first_seq_of_responses(conn, site_id, by_record)
    for response_id, what in _check_responses(conn, site_id, report):
        problems.append(Problem(seq_of_response.get(response_id), what))
    for version_id, what in _check_content(conn, site_id):
        link = by_record.get(("version", version_id))
        problems.append(Problem(link.seq if link else None, what))
    problems += _check_stamps(conn, site, links, tsa_roots, report)
    report.problems = sorted(problems, key=lambda p: (p.seq is None, p.seq or 0))
    return report


def _links(conn: Connection, site_id: int) -> list[Link]:
    lc = s.chain_links.c
    rows = conn.execute(
        select(lc.site_id, lc.seq, lc.record, lc.record_id, lc.canonical, lc.record_hash,
               lc.prev_hash, lc.chain_hash)
        .where(lc.site_id == site_id)
        .order_by(lc.seq)
    ).mappings()
    return [Link(**row) for row in rows]


def _check_links(
    links: Sequence[Link], records: Mapping[tuple[str, int], dict[str, Any]]
) -> Iterator[Problem]:
    by_chain_hash = {lk.chain_hash: lk for lk in links}
    by_record_hash: dict[str, Link] = {}
    for lk in links:
        by_record_hash.setdefault(lk.record_hash, lk)
    expected, prev = 1, GENESIS
    for lk in links:
        renumbered = False
        if lk.seq != expected:
            n = lk.seq - expected
            yield Problem(expected, f"links #{expected}…#{lk.seq - 1} are missing: {n} record(s) "
                                    "removed together with their links")
        elif lk.prev_hash != prev:
            earlier = by_chain_hash.get(lk.prev_hash)
            if earlier is None:
                yield Problem(lk.seq, f"does not continue the chain: it names a previous hash "
                                      f"{lk.prev_hash[:12]}… that link #{lk.seq - 1} does not have "
                                      "(a link was rewritten)")
            elif link_hash(earlier.seq + 1, lk.prev_hash, lk.record_hash) == lk.chain_hash:
                renumbered = True
                yield Problem(lk.seq, f"out of order: this is the record chained as link "
                                      f"#{earlier.seq + 1}, renumbered (records reordered)")
            else:
                yield Problem(lk.seq, f"out of order: it was chained right after the link now "
                                      f"numbered #{earlier.seq}, not after #{lk.seq - 1} "
                                      "(records reordered)")
        if sha256_hex(lk.canonical.encode()) != lk.record_hash or (
            not renumbered and link_hash(lk.seq, lk.prev_hash, lk.record_hash) != lk.chain_hash
        ):
            yield Problem(
                lk.seq, "the link itself was edited: its hashes do not match its contents"
            )
        yield from _check_record(lk, records.get((lk.record, lk.record_id)), by_record_hash)
        expected, prev = lk.seq + 1, lk.chain_hash


def _check_record(
    lk: Link, record: dict[str, Any] | None, by_record_hash: Mapping[str, Link]
) -> Iterator[Problem]:
    chained = json.loads(lk.canonical)
    name = f"{lk.record} {lk.record_id} ({_describe(chained)})"
    if record is None:
        yield Problem(lk.seq, f"{name} was removed from the archive")
        return
    now = canonical_json(record)
    if now.decode() == lk.canonical:
        return
    other = by_record_hash.get(sha256_hex(now))
    if other is not None and other.seq != lk.seq:
        yield Problem(lk.seq, f"{name} now holds the record chained at link #{other.seq} "
                              f"({other.record} {other.record_id}): rows swapped or reordered")
        return
    diffs = "; ".join(_field_diffs(chained, record)) or "its canonical form changed"
    yield Problem(lk.seq, f"{name} was changed after it was chained: {diffs}")


def _describe(rec: Mapping[str, Any]) -> str:
    when = rec.get("fetched_at") or rec.get("detected_at")
    what = f"{rec.get('kind')} " if rec.get("record") == "change" else ""
    return f"{what}{rec.get('type')}/{rec.get('wp_id')} at {when}"


def _field_diffs(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _field_diffs(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} was {_short(a)}, is now {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _check_unlinked(
    records: Mapping[tuple[str, int], dict[str, Any]], by_record: Mapping[tuple[str, int], Link]
) -> Iterator[Problem]:
    for key, rec in sorted(records.items()):
        if key not in by_record:
            yield Problem(None, f"{key[0]} {key[1]} ({_describe(rec)}) is in no chain link: "
                                "it was added to the archive outside wpwatch")


def _first_seq_of_responses(
    conn: Connection, site_id: int, by_record: Mapping[tuple[str, int], Link]
) -> dict[int, int]:
    """response id → the first link whose record cites that response."""
    v, p, c = s.versions.c, s.posts.c, s.changes.c
    cites = [("version", r.id, r.response_id) for r in conn.execute(
        select(v.id, v.response_id).join(s.posts, p.id == v.post_id).where(p.site_id == site_id))]
    cites += [("change", r.id, r.response_id) for r in conn.execute(
        select(c.id, c.response_id).where(c.site_id == site_id, c.response_id.is_not(None)))]
    out: dict[int, int] = {}
    for record, record_id, response_id in cites:
        link = by_record.get((record, record_id))
        if link is not None and (response_id not in out or link.seq < out[response_id]):
            out[response_id] = link.seq
    return out


def _check_responses(
    conn: Connection, site_id: int, report: SiteReport
) -> Iterator[tuple[int, str]]:
    r = s.responses.c
    rows = conn.execution_options(yield_per=64).execute(
        select(r.id, r.method, r.url, r.fetched_at, r.body, r.sha256).where(r.site_id == site_id)
    )
    for row in rows:
        report.responses += 1
        name = f"raw bytes of response {row.id} ({row.method} {row.url} at {row.fetched_at})"
        try:
            raw = zlib.decompress(row.body)
        except zlib.error as exc:
            yield row.id, f"{name} were changed: they no longer decompress ({exc})"
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if digest != row.sha256:
            yield row.id, (f"{name} were changed: their SHA-256 is now {digest[:16]}…, "
                           f"the archive recorded {row.sha256[:16]}…")


def _check_content(conn: Connection, site_id: int) -> Iterator[tuple[int, str]]:
    v, p = s.versions.c, s.posts.c
    rows = conn.execution_options(yield_per=256).execute(
        select(v.id, v.normalized, v.content_hash)
        .join(s.posts, p.id == v.post_id)
        .where(p.site_id == site_id)
    )
    for row in rows:
        try:
            digest = hashlib.sha256(zlib.decompress(row.normalized)).hexdigest()
        except zlib.error:
            digest = "unreadable"
        if digest != row.content_hash:
            yield row.id, (f"the normalized content of version {row.id} no longer matches its "
                           "content hash (what `show` and `diff` display was changed)")


def _check_stamps(
    conn: Connection,
    site: Mapping[str, Any],
    links: Sequence[Link],
    tsa_roots: Sequence[Any] | None,
    report: SiteReport,
) -> Iterator[Problem]:
    st = s.chain_stamps.c
    rows = conn.execute(
        select(st.seq, st.chain_hash, st.tsa_url, st.token, st.gen_time)
        .where(st.site_id == site["id"])
        .order_by(st.seq)
    ).all()
    by_seq = {lk.seq: lk for lk in links}
    last = links[-1].seq if links else 0
    report.stamps = len(rows)
    report.stamps_signature_checked = bool(rows) and bool(tsa_roots)
    for row in rows:
        name = f"the chain head timestamped by {row.tsa_url} at {row.gen_time}"
        link = by_seq.get(row.seq)
        if row.seq > last:
            yield Problem(last + 1, f"{name} is link #{row.seq}, but the chain now ends at "
                                    f"#{last}: the last {row.seq - last} record(s) were removed")
        elif link is None or link.chain_hash != row.chain_hash:
            yield Problem(row.seq, f"{name} (link #{row.seq}) no longer matches the chain: "
                                   f"records up to link #{row.seq} were changed")
        problem = check_token(row.token, stamp_message(site["url"], row.seq, row.chain_hash),
                              tsa_roots)
        if problem:
            yield Problem(row.seq, f"{name}: the token does not hold: {problem}")
