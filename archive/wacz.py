"""WACZ packages (Webrecorder's Web Archive Collection Zipped, 1.1.1), built with py-wacz.

What a package holds, per site in it:

* ``archive/SITE.warc.gz``: the WARC export of the site (archive/export.py): every
  answer as received, the chain's metadata records and the RFC 3161 tokens over
  chain heads;
* ``archive/SITE-posts.warc.gz``: one ``resource`` record per version at the post's
  own API URL, cut byte for byte from the listing it was read in
  (archive/post_items.py), so that ReplayWeb.page shows a post's archived JSON at
  ``…/wp-json/wp/v2/posts/ID``;

and once: ``indexes/index.cdx.gz`` and ``indexes/index.idx`` (py-wacz's CDXJ index,
compressed in blocks, with its block index), ``pages/pages.jsonl`` (one page per
post: its API URL, title and first capture in the package), ``datapackage.json``
(the SHA-256 and size of every file) and ``datapackage-digest.json`` (the SHA-256
of datapackage.json).

When a timestamp authority is given, its RFC 3161 token over datapackage.json
(whose SHA-256 is the digest) is stored in datapackage-digest.json under
``rfc3161``: ``{"token": base64 DER TimeStampResp, "genTime": ISO UTC}``. It
cannot be a file of the package, since datapackage.json lists every file and the
token is made over it. OpenSSL checks it with
``openssl ts -verify -data datapackage.json -in TOKEN.tsr -CAfile tsa-ca.pem``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from wacz.main import DEFAULT_NUM_LINES, PAGE_INDEX
from wacz.util import now
from wacz.waczindexer import WACZIndexer

from archive.export import export_site
from archive.post_items import PostPage, write_post_items
from archive.store import Archive
from archive.tsa import request_token
from core.about import VERSION
from core.exceptions import ExportError

progress_log = logging.getLogger("wpwatch.progress")

DIGEST_FILE = "datapackage-digest.json"
PROGRESS_EVERY = 2.0  # seconds between progress lines of one long step


@dataclass
class WaczSummary:
    path: Path
    sites: list[str] = field(default_factory=list)
    versions: int = 0
    changes: int = 0
    responses: int = 0
    post_records: int = 0
    pages: int = 0
    files: int = 0
    timestamp: str | None = None  # genTime of the RFC 3161 token, when stamped


class _Progress:
    """Logs "step: n/total" at most every PROGRESS_EVERY seconds, and the step's end."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        t = time.monotonic()
        if (done == total and total > 0) or t - self.last >= PROGRESS_EVERY:
            self.last = t
            progress_log.info("%s: %d/%d", self.step, done, total)


def site_slug(site_url: str) -> str:
    """A file name for a site: its host, port and path, lowercase, `-` for the rest."""
    rest = site_url.split("://", 1)[-1].lower()
    return re.sub(r"[^a-z0-9.]+", "-", rest).strip("-.") or "site"


def build_wacz(
    archive: Archive,
    out: Path,
    *,
    site_urls: list[str] | None = None,
    since: str | None = None,
    tsa_url: str | None = None,
) -> WaczSummary:
    """Write a WACZ of the given sites (all sites when None) to out; see the module doc."""
    sites = archive.list_sites()
    if site_urls is not None:
        sites = [row for row in sites if row["url"] in site_urls]
    if not sites:
        raise ExportError(f"nothing to package: the archive {archive.label} holds no sites yet")
    summary = WaczSummary(out)
    with tempfile.TemporaryDirectory(prefix="wpwatch-wacz-") as tmp:
        warcs, pages = _write_warcs(archive, Path(tmp), sites, since, summary)
        partial = out.with_name(f".{out.name}.{os.getpid()}.part")
        try:
            _write_package(partial, warcs, pages, sites, tsa_url, summary)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    return summary


def _write_warcs(
    archive: Archive, tmp: Path, sites: list[dict[str, Any]], since: str | None,
    summary: WaczSummary,
) -> tuple[list[Path], list[PostPage]]:
    warcs: list[Path] = []
    pages: list[PostPage] = []
    for site in sites:
        slug = site_slug(site["url"])
        warc = tmp / f"{slug}.warc.gz"
        progress_log.info("%s: writing the WARC of every stored answer", site["url"])
        exported = export_site(archive, site["url"], warc, fmt="warc", since=since,
                               progress=_Progress(f"{site['url']}: versions and changes"))
        items = tmp / f"{slug}-posts.warc.gz"
        with archive.engine.connect() as conn, open(items, "wb") as fh:
            cut, site_pages = write_post_items(
                conn, fh, site, since=since, progress=_Progress(f"{site['url']}: post records"))
        summary.sites.append(site["url"])
        summary.versions += exported.versions
        summary.changes += exported.changes
        summary.responses += exported.responses
        summary.post_records += cut.records
        warcs += [warc, items]
        pages += site_pages
    return warcs, pages


def _write_package(
    path: Path,
    warcs: list[Path],
    pages: list[PostPage],
    sites: list[dict[str, Any]],
    tsa_url: str | None,
    summary: WaczSummary,
) -> None:
    with zipfile.ZipFile(path, "w") as wacz:
        progress_log.info("indexing %d WARC file(s)", len(warcs))
        indexer = _write_index(wacz, warcs)
        progress_log.info("writing the WARC files into the package")
        for warc in warcs:
            info = zipfile.ZipInfo.from_file(warc, f"archive/{warc.name}")  # stored: seekable
            with wacz.open(info, "w") as dst, open(warc, "rb") as src:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        indexer.write_page_list(wacz, PAGE_INDEX, _page_lines(indexer, pages))
        summary.pages = len(pages)
        names = ", ".join(row["name"] or row["url"] for row in sites)
        meta = SimpleNamespace(
            title=f"wpwatch archive of {names}",
            desc=f"Every stored REST answer of {names}, as received, with the hash chain "
                 f"of versions and changes; made by wpwatch {VERSION}",
            date=None,
        )
        progress_log.info("hashing the package files into datapackage.json")
        datapackage = indexer.generate_datapackage(meta, wacz).encode("utf-8")
        summary.files = len(wacz.infolist())
        digest: dict[str, Any] = json.loads(indexer.generate_datapackage_digest(datapackage))
        if tsa_url:
            progress_log.info("asking the timestamp authority for a token over the digest")
            token, gen_time = request_token(tsa_url, datapackage)
            digest["rfc3161"] = {"token": base64.b64encode(token).decode("ascii"),
                                 "genTime": gen_time}
            summary.timestamp = gen_time
        _write_small(wacz, "datapackage.json", datapackage)
        _write_small(wacz, DIGEST_FILE, json.dumps(digest, indent=2).encode("utf-8"))


def _write_index(wacz: zipfile.ZipFile, warcs: list[Path]) -> WACZIndexer:
    """py-wacz's CDXJ index of the WARCs: index.cdx.gz (stored) and its block index."""
    index_buffer = io.BytesIO()
    text = io.TextIOWrapper(index_buffer, "utf-8", write_through=True)
    # py-wacz reports on stdout; a CLI command must keep its own stdout.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        wacz.open(zipfile.ZipInfo("indexes/index.cdx.gz", now()), "w") as data,
    ):
        indexer = WACZIndexer(
            text, [str(w) for w in warcs], sort=True, post_append=True, compress=data,
            lines=DEFAULT_NUM_LINES, digest_records=True, fields="referrer",
            data_out_name="index.cdx.gz", hash_type="sha256", main_url="",
            detect_pages=False, passed_pages_dict={}, extract_text=False,
        )
        indexer.process_all()
    _write_small(wacz, "indexes/index.idx", index_buffer.getvalue())
    return indexer


def _page_lines(indexer: WACZIndexer, pages: list[PostPage]) -> Any:
    entries = [
        {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, f"wpwatch:page:{pg.url}").hex,
            "url": pg.url,
            "ts": pg.first_seen,
            "title": pg.title,
        }
        for pg in pages
    ]
    return indexer.serialize_json_pages(entries, id="pages", title="Posts")


def _write_small(wacz: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, now())
    info.compress_type = zipfile.ZIP_DEFLATED
    wacz.writestr(info, data)


def sha256_prefixed(data: bytes) -> str:
    """A hash as datapackage.json writes it: ``sha256:HEX``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
