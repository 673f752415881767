"""Exports of one site's archive: WARC 1.1 (ISO 28500) and JSON lines.

WARC (written with warcio, per-record gzip when the file name ends in .gz):

* one ``warcinfo`` record: the software, the site, the chain head, and what
  the export changed in the stored headers (below);
* for every stored response (each fetch that produced a version, or proved a
  post gone): a ``response`` record with the original status, headers and raw
  bytes, ``WARC-Date`` = the time it was fetched, and SHA-256 digests (the
  payload digest is the archive's own SHA-256 of the raw bytes, in base32),
  and a ``request`` record (method, URL and Host: wpwatch keeps no request
  headers) concurrent to it;
* one ``metadata`` record (``application/json``) per chain link, that is per
  stored version and per change, referring to the response it came from:
  the post, the change kind and fields, the canonical record and its hashes.
  Its target is ``urn:wpwatch:version:RECORD_HASH`` (or ``change:``), so that
  replay indexes do not take it for a capture of the response's URL;
* one ``resource`` record (``application/timestamp-reply``) per RFC 3161 token
  over a chain head, as the authority sent it (``urn:wpwatch:chain-head:HASH``);
* one ``resource`` record (``application/json``, ``urn:wpwatch:coverage:SITE``): the
  site's coverage (archive/coverage.py) and every round it rests on, so a reader can
  check "last seen present at T1 (round R1)" in a change record against the rounds.

The raw bytes are the body as Scrapy hands it over: transfer and content
codings already removed. So ``Transfer-Encoding`` is renamed
``X-Archive-Orig-Transfer-Encoding`` and a ``Content-Length`` that does not
match the stored bytes is set to their length, the original kept as
``X-Archive-Orig-Content-Length`` (the convention of pywb and warcprox).

JSON lines: one object per version and per change, in chain order, with the
hashes; for spreadsheets and notebooks. Then, outside the chain, one ``annotation`` line
per change the review workspace annotated: its triage state, labels, notes and audit log;
last, the coverage object (``"record": "coverage"``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Connection
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archive import schema as s
from archive.chain import chain_head, snapshot
from archive.codec import unpack
from archive.coverage import coverage, presence, site_rounds
from archive.notes import annotated_ids, annotations_on, audit_trail
from archive.store import Archive
from core.about import VERSION
from core.exceptions import ExportError
from core.values import utcnow

FORMATS = ("warc", "jsonl")

Progress = Callable[[int, int], None]
"""Called as (entries written, entries in all) while an export runs."""


@dataclass
class ExportSummary:
    path: Path
    format: str
    versions: int = 0
    changes: int = 0
    responses: int = 0


class SHA256Writer(WARCWriter):
    """warcio's writer with SHA-256 block and payload digests (it defaults to SHA-1)."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def export_site(
    archive: Archive,
    site_url: str,
    out: Path,
    *,
    fmt: str,
    since: str | None = None,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write one site's versions and changes (fetched / detected since `since`) to out.

    `progress`, when given, is called after each version or change written.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    site = archive.find_site(site_url)
    if site is None:
        raise ExportError(f"no site {site_url} in the archive {archive.label}")
    summary = ExportSummary(out, fmt)
    with archive.engine.connect() as conn, open(out, "wb") as fh:
        snapshot(conn)
        entries = _entries(conn, site["id"], since)
        report = progress or (lambda done, total: None)
        watched = coverage_json(conn, site, since)
        if fmt == "jsonl":
            _write_jsonl(fh, entries, summary, report)
            _write_annotations(conn, fh, entries)
            if watched["rounds"]:  # a site never crawled has no coverage to state
                fh.write(json.dumps(watched, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        else:
            _write_warc(conn, fh, site, entries, summary, report, gzip=out.name.endswith(".gz"),
                        watched=watched)
    return summary


# -- what is exported, in chain order ---------------------------------------------------------
def _entries(conn: Connection, site_id: int, since: str | None) -> list[dict[str, Any]]:
    v, p, r, c, lk = s.versions.c, s.posts.c, s.responses.c, s.changes.c, s.chain_links.c
    links = {
        (row.record, row.record_id): row._asdict()
        for row in conn.execute(
            select(lk.record, lk.record_id, lk.seq, lk.record_hash, lk.prev_hash, lk.chain_hash,
                   lk.canonical).where(lk.site_id == site_id)
        )
    }
    vq = (
        select(v.id, v.post_id, v.response_id, v.item_index, v.content_hash, v.normalized,
               v.modified_gmt, v.revision_count, v.fetched_at, p.type, p.wp_id, p.link, p.title,
               r.url, r.method, r.status, r.sha256, r.size)
        .join(s.posts, p.id == v.post_id)
        .join(s.responses, r.id == v.response_id)
        .where(p.site_id == site_id)
    )
    cq = (
        select(c.id, c.kind, c.fields, c.detected_at, c.from_version_id, c.to_version_id,
               c.response_id, c.round_id, p.type, p.wp_id, p.link, p.title)
        .join(s.posts, p.id == c.post_id)
        .where(c.site_id == site_id)
    )
    if since:
        vq = vq.where(v.fetched_at >= since)
        cq = cq.where(c.detected_at >= since)
    out = [{"record": "version", **row._asdict()} for row in conn.execute(vq)]
    out += [{"record": "change", **row._asdict()} for row in conn.execute(cq)]
    for e in out:
        e["link"], e["post_link"] = links.get((e["record"], e["id"])), e.pop("link")
    version_response = dict(conn.execute(
        select(v.id, v.response_id).join(s.posts, p.id == v.post_id).where(p.site_id == site_id)
    ).all())
    version_hash = {rid: ln["record_hash"] for (rec, rid), ln in links.items() if rec == "version"}
    for e in out:
        if e["record"] == "change":
            e["presence"] = presence(conn, site_id, e["kind"], e["round_id"], e["detected_at"])
            e["from_version_hash"] = version_hash.get(e["from_version_id"])
            e["to_version_hash"] = version_hash.get(e["to_version_id"])
            if e["response_id"] is None and e["to_version_id"] is not None:
                e["evidence_response_id"] = version_response.get(e["to_version_id"])
            else:
                e["evidence_response_id"] = e["response_id"]
    out.sort(key=lambda e: (e["link"] is None, e["link"]["seq"] if e["link"] else 0,
                            e["record"], e["id"]))
    return out


def _chain(e: dict[str, Any]) -> dict[str, Any] | None:
    ln = e["link"]
    if ln is None:
        return None
    return {k: ln[k] for k in ("seq", "record_hash", "prev_hash", "chain_hash")}


def _version_json(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "record": "version",
        "chain": _chain(e),
        "version_id": e["id"],
        "type": e["type"],
        "wp_id": e["wp_id"],
        "title": e["title"],
        "link": e["post_link"],
        "fetched_at": e["fetched_at"],
        "method": e["method"],
        "url": e["url"],
        "status": e["status"],
        "sha256": e["sha256"],
        "size": e["size"],
        "response_id": e["response_id"],
        "item_index": e["item_index"],
        "content_hash": e["content_hash"],
        "modified_gmt": e["modified_gmt"],
        "revision_count": e["revision_count"],
        "normalized": unpack(e["normalized"]),
    }


def _change_json(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "record": "change",
        "chain": _chain(e),
        "change_id": e["id"],
        "type": e["type"],
        "wp_id": e["wp_id"],
        "title": e["title"],
        "link": e["post_link"],
        "kind": e["kind"],
        "fields": json.loads(e["fields"]),
        "detected_at": e["detected_at"],
        "from_version_id": e["from_version_id"],
        "to_version_id": e["to_version_id"],
        "from_version_hash": e["from_version_hash"],
        "to_version_hash": e["to_version_hash"],
        "response_id": e["evidence_response_id"],
        "round_id": e["round_id"],
        "presence": e["presence"],  # last seen present / first seen gone: see "coverage"
    }


def coverage_json(conn: Connection, site: dict[str, Any], since: str | None) -> dict[str, Any]:
    """The site's coverage and every round it rests on, so a reader can check the claims."""
    return {
        "record": "coverage",
        "site": site["url"],
        **coverage(conn, site["id"], since=since),
        "round_log": site_rounds(conn, site["id"], since),
    }


# -- JSON lines --------------------------------------------------------------------------------
def _write_jsonl(
    fh: IO[bytes], entries: list[dict[str, Any]], summary: ExportSummary, progress: Progress
) -> None:
    for done, e in enumerate(entries, 1):
        if e["record"] == "version":
            obj = _version_json(e)
            summary.versions += 1
        else:
            obj = _change_json(e)
            summary.changes += 1
        fh.write(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        progress(done, len(entries))


def _write_annotations(conn: Connection, fh: IO[bytes], entries: list[dict[str, Any]]) -> None:
    """The working notes of the exported changes (state, labels, notes, audit log), after the
    evidence: one ``annotation`` line per annotated change, outside the hash chain."""
    ids = [e["id"] for e in entries if e["record"] == "change"]
    annotated = annotated_ids(conn, ids)
    found = annotations_on(conn, annotated)
    for change_id in annotated:
        obj = {"record": "annotation", "change_id": change_id, **found[change_id],
               "audit": audit_trail(conn, change_id)}
        fh.write(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode() + b"\n")


# -- WARC --------------------------------------------------------------------------------------
def _write_warc(
    conn: Connection,
    fh: IO[bytes],
    site: dict[str, Any],
    entries: list[dict[str, Any]],
    summary: ExportSummary,
    progress: Progress,
    *,
    gzip: bool,
    watched: dict[str, Any] | None = None,
) -> None:
    writer = SHA256Writer(fh, gzip=gzip, warc_version="1.1")
    head = chain_head(conn, site["id"])
    info = {
        "software": f"wpwatch/{VERSION}",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "description": f"wpwatch archive of {site['url']}: every stored version and change",
        "isPartOf": site["url"],
        "wpwatch-chain-head": f"{head[0]} {head[1]}" if head else "empty",
        "wpwatch-note": "request records hold the method, URL and Host only (request headers are "
                        "not stored; a request made with a site's login says "
                        "'Authorization: [redacted]'); Transfer-Encoding and a stale "
                        "Content-Length are kept as X-Archive-Orig-* headers because the "
                        "payload is stored decoded",
    }
    writer.write_record(writer.create_warcinfo_record("", info))
    written: dict[int, str] = {}  # response id -> WARC-Record-ID of its response record

    for done, e in enumerate(entries, 1):
        response_id = e["response_id"] if e["record"] == "version" else e["evidence_response_id"]
        if response_id is not None and response_id not in written:
            written[response_id] = _write_exchange(conn, writer, site["url"], response_id)
            summary.responses += 1
        if e["record"] == "version":
            payload, summary.versions = _version_json(e), summary.versions + 1
            when = e["fetched_at"]
        else:
            payload, summary.changes = _change_json(e), summary.changes + 1
            when = e["detected_at"]
        payload["site"] = site["url"]
        if e["link"] is not None:
            payload["canonical"] = json.loads(e["link"]["canonical"])
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "WARC-Record-ID": warc_record_id(site["url"], e["record"], e["id"]),
            "WARC-Date": when,
        }
        if response_id is not None:
            headers["WARC-Refers-To"] = written[response_id]
        # A URN, not the response URL: replay tools index metadata records as captures.
        uri = (f"urn:wpwatch:{e['record']}:{e['link']['record_hash']}" if e["link"]
               else f"urn:wpwatch:{e['record']}:id:{e['id']}")
        writer.write_record(writer.create_warc_record(
            uri, "metadata", payload=BytesIO(body), length=len(body),
            warc_content_type="application/json", warc_headers_dict=headers,
        ))
        progress(done, len(entries))
    if watched and watched["rounds"]:  # the rounds, covered intervals and gaps
        body = json.dumps(watched, ensure_ascii=False, sort_keys=True).encode()
        writer.write_record(writer.create_warc_record(
            f"urn:wpwatch:coverage:{site['url']}", "resource", payload=BytesIO(body),
            length=len(body), warc_content_type="application/json",
            warc_headers_dict={"WARC-Record-ID": warc_record_id(site["url"], "coverage", 0),
                               "WARC-Date": watched["last"] or utcnow()},
        ))
    _write_stamps(conn, writer, site)


def _write_stamps(conn: Connection, writer: WARCWriter, site: dict[str, Any]) -> None:
    """The RFC 3161 tokens over the site's chain heads, as received, one resource each."""
    st = s.chain_stamps.c
    rows = conn.execute(
        select(st.id, st.chain_hash, st.token, st.gen_time)
        .where(st.site_id == site["id"])
        .order_by(st.seq)
    )
    for row in rows:
        writer.write_record(writer.create_warc_record(
            f"urn:wpwatch:chain-head:{row.chain_hash}", "resource",
            payload=BytesIO(row.token), length=len(row.token),
            warc_content_type="application/timestamp-reply",
            warc_headers_dict={
                "WARC-Record-ID": warc_record_id(site["url"], "stamp", row.id),
                "WARC-Date": row.gen_time,
            },
        ))


def _write_exchange(conn: Connection, writer: WARCWriter, site_url: str, response_id: int) -> str:
    """A request and a response record for one stored response; returns the response's id."""
    row, raw = load_response(conn, response_id)
    digest = hashlib.sha256(raw).digest()
    headers = _http_headers(json.loads(row["headers"]), len(raw))
    status = int(row["status"])
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    http = StatusAndHeaders(f"{status} {reason}".strip(), headers, protocol="HTTP/1.1")
    resp_id = warc_record_id(site_url, "response", response_id)
    response = writer.create_warc_record(
        row["url"], "response", payload=BytesIO(raw), length=len(raw), http_headers=http,
        warc_headers_dict={
            "WARC-Record-ID": resp_id,
            "WARC-Date": row["fetched_at"],
            "WARC-Payload-Digest": "sha256:" + base64.b32encode(digest).decode(),
        },
    )
    split = urlsplit(row["url"])
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    request_headers = [("Host", split.netloc)]
    if row.get("authenticated"):  # an own site's login: that it was sent, never what it was
        request_headers.append(("Authorization", "[redacted]"))
    request_http = StatusAndHeaders(f"{row['method']} {target} HTTP/1.1",
                                    request_headers, is_http_request=True)
    request = writer.create_warc_record(
        row["url"], "request", payload=BytesIO(b""), length=0, http_headers=request_http,
        warc_headers_dict={
            "WARC-Record-ID": warc_record_id(site_url, "request", response_id),
            "WARC-Date": row["fetched_at"],
            "WARC-Concurrent-To": resp_id,
        },
    )
    writer.write_record(response)
    writer.write_record(request)
    return resp_id


def load_response(conn: Connection, response_id: int) -> tuple[dict[str, Any], bytes]:
    """A stored response's row and raw bytes, checked against the SHA-256 stored with them."""
    r = s.responses.c
    row = dict(conn.execute(select(s.responses).where(r.id == response_id)).mappings().one())
    try:
        raw = zlib.decompress(row["body"])
    except zlib.error:
        raw = b""
    if hashlib.sha256(raw).hexdigest() != row["sha256"]:
        raise ExportError(f"response {response_id} ({row['url']}) does not match its SHA-256: "
                          "the archive was changed; run `wpwatch verify`")
    return row, raw


def _http_headers(stored: list[list[str]], length: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    has_length = False
    for name, value in stored:
        low = name.lower()
        if low == "transfer-encoding":
            out.append(("X-Archive-Orig-Transfer-Encoding", value))
        elif low == "content-length":
            if value.strip() == str(length) and not has_length:
                out.append((name, value))
                has_length = True
            else:
                out.append(("X-Archive-Orig-Content-Length", value))
        else:
            out.append((name, value))
    if not has_length:
        out.append(("Content-Length", str(length)))
    return out


def warc_record_id(site_url: str, kind: str, record_id: int) -> str:
    """A stable WARC-Record-ID, so that exporting twice gives the same records."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'wpwatch:{site_url}:{kind}:{record_id}')}>"


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Read a JSON-lines export back (for tests and notebooks)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)
