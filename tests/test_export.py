"""`wpwatch export`: WARC 1.1 that warcio checks and pywb indexes, and JSON lines.

The archive is the demo one of tests/test_evidence.py (real crawls of the bundled demo
site); the real-WordPress scenario is in tests/test_export_wordpress.py.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import WPWatch
from tests.test_evidence import DemoArchive, sql


def tool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A Python tool of the test environment (warcio, pywb) as its own process."""
    return subprocess.run([sys.executable, "-m", *args], check=False, capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def read_warc(path: Path) -> list[dict[str, Any]]:
    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            out.append({
                "type": rec.rec_type,
                "headers": dict(rec.rec_headers.headers),
                "http": rec.http_headers,
                "payload": rec.content_stream().read(),
            })
    return out


def check_warc_with_tools(warc: Path, work: Path) -> str:
    """warcio check and index, pywb's cdx-indexer and wb-manager add: all without errors.

    Returns pywb's CDXJ index of the collection.
    """
    check = tool("warcio.cli", "check", "-v", str(warc))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout and "fail" not in check.stdout
    index = tool("warcio.cli", "index", str(warc))
    assert index.returncode == 0 and index.stdout.count("\n") > 3, index.stderr
    cdx = tool("pywb.indexer.cdxindexer", str(warc))
    assert cdx.returncode == 0 and "Traceback" not in cdx.stderr, cdx.stderr
    assert cdx.stdout.startswith(" CDX ")
    work.mkdir(parents=True, exist_ok=True)
    init = tool("pywb.manager.manager", "init", "evidence", cwd=work)
    assert init.returncode == 0, init.stderr
    add = tool("pywb.manager.manager", "add", "evidence", str(warc), cwd=work)
    assert add.returncode == 0 and "Traceback" not in add.stderr, add.stderr
    return (work / "collections" / "evidence" / "indexes" / "index.cdxj").read_text()


def _responses(db: Path) -> dict[int, dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return {r["id"]: dict(r) for r in conn.execute("SELECT * FROM responses")}
    finally:
        conn.close()


def test_warc_export_holds_every_fetch_with_its_bytes_and_hashes(
    copy: WPWatch, demo_archive: DemoArchive, tmp_path: Path
) -> None:
    warc = tmp_path / "site.warc.gz"
    out = copy.run("export", "--site", demo_archive.site_url, "--format", "warc", "--out",
                   str(warc)).stdout
    responses = _responses(copy.db)
    (versions,), (changes,) = (sql(copy.db, f"SELECT count(*) FROM {t}")[0]
                               for t in ("versions", "changes"))
    assert out.startswith(f"exported {versions} versions and {changes} changes "
                          f"({len(responses)} responses)")
    records = read_warc(warc)
    assert records[0]["type"] == "warcinfo"
    assert records[0]["headers"]["WARC-Type"] == "warcinfo"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_type.setdefault(r["type"], []).append(r)
    assert len(by_type["response"]) == len(by_type["request"]) == len(responses)
    assert len(by_type["metadata"]) == versions + changes

    stored = {(r["url"], r["fetched_at"]): r for r in responses.values()}
    ids = set()
    for rec in by_type["response"]:
        h = rec["headers"]
        row = stored[(h["WARC-Target-URI"], h["WARC-Date"])]  # WARC-Date = fetched_at
        raw = zlib.decompress(row["body"])
        assert rec["payload"] == raw
        digest = base64.b32encode(bytes.fromhex(row["sha256"])).decode()
        assert h["WARC-Payload-Digest"] == f"sha256:{digest}"
        assert rec["http"].get_statuscode() == str(row["status"])
        orig = {k.lower(): v for k, v in json.loads(row["headers"])}
        assert rec["http"].get_header("Content-Type") == orig["content-type"]
        ids.add(h["WARC-Record-ID"])
    for rec in by_type["request"]:
        assert rec["headers"]["WARC-Concurrent-To"] in ids
        assert rec["http"].protocol.startswith("GET ") or rec["http"].protocol == "GET"

    links = {(r, i): (seq, ch) for r, i, seq, ch in sql(
        copy.db, "SELECT record, record_id, seq, chain_hash FROM chain_links")}
    kinds = []
    for rec in by_type["metadata"]:
        assert rec["headers"]["Content-Type"] == "application/json"
        assert rec["headers"]["WARC-Refers-To"] in ids
        meta = json.loads(rec["payload"])
        key = (meta["record"], meta.get("version_id") or meta.get("change_id"))
        assert (meta["chain"]["seq"], meta["chain"]["chain_hash"]) == links[key]
        assert meta["canonical"]["record"] == meta["record"]
        assert rec["headers"]["WARC-Target-URI"] == (
            f"urn:wpwatch:{meta['record']}:{meta['chain']['record_hash']}")
        if meta["record"] == "change":
            kinds.append(meta["kind"])
    assert {"new", "edited", "unpublished", "deleted", "restored"} <= set(kinds)


def test_warc_export_passes_warcio_and_pywb(
    copy: WPWatch, demo_archive: DemoArchive, tmp_path: Path
) -> None:
    warc = tmp_path / "site.warc.gz"
    copy.run("export", "--site", demo_archive.site_url, "--out", str(warc))
    cdxj = check_warc_with_tools(warc, tmp_path / "pywb")
    urls = {r["url"] for r in _responses(copy.db).values()}
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in cdxj.splitlines()}
    assert urls <= indexed
    # an uncompressed WARC too
    plain = tmp_path / "site.warc"
    copy.run("export", "--site", demo_archive.site_url, "--format", "warc", "--out", str(plain))
    assert tool("warcio.cli", "check", str(plain)).returncode == 0


def test_jsonl_export_one_line_per_version_and_change(
    copy: WPWatch, demo_archive: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "site.jsonl"
    copy.run("export", "--site", demo_archive.site_url, "--out", str(out))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    coverage = lines.pop()  # last: the rounds the site was watched in (and the gaps)
    (rounds,), = sql(copy.db, "SELECT count(*) FROM rounds")
    assert coverage["record"] == "coverage" and len(coverage["round_log"]) == rounds
    (versions,), (changes,) = (sql(copy.db, f"SELECT count(*) FROM {t}")[0]
                               for t in ("versions", "changes"))
    assert [x["record"] for x in lines].count("version") == versions
    assert [x["record"] for x in lines].count("change") == changes
    assert [x["chain"]["seq"] for x in lines] == list(range(1, len(lines) + 1))
    hashes = dict(sql(copy.db, "SELECT seq, chain_hash FROM chain_links"))
    assert all(x["chain"]["chain_hash"] == hashes[x["chain"]["seq"]] for x in lines)
    version = next(x for x in lines if x["record"] == "version")
    assert {"sha256", "url", "fetched_at", "content_hash", "item_index", "revision_count",
            "normalized", "wp_id", "type", "title"} <= set(version)
    change = next(x for x in lines if x["record"] == "change" and x["kind"] == "edited")
    assert change["fields"] and change["to_version_hash"] and change["from_version_hash"]

    # --since: only what was fetched or detected from then on
    last = max(x.get("detected_at") or "" for x in lines)
    copy.run("export", "--site", demo_archive.site_url, "--since", last, "--format", "jsonl",
             "--out", str(out))
    recent = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert 0 < len(recent) < len(lines)
    assert all((x.get("detected_at") or x.get("fetched_at")) >= last[:19] for x in recent)


def test_export_errors_are_one_line(copy: WPWatch, demo_archive: DemoArchive, tmp_path: Path
                                    ) -> None:
    proc = copy.run("export", "--site", "nowhere", "--out", str(tmp_path / "x.jsonl"),
                    check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("wpwatch: no site 'nowhere'")
    proc = copy.run("export", "--site", demo_archive.site_url, "--out", str(tmp_path / "x.bin"),
                    check=False)
    assert proc.returncode == 2 and "add --format warc, jsonl or wacz" in proc.stderr
    # an archive whose bytes were changed is not exported as if it were evidence
    ((rid,),) = sql(copy.db, "SELECT min(id) FROM responses")
    sql(copy.db, "UPDATE responses SET body=? WHERE id=?", zlib.compress(b"[]"), rid)
    proc = copy.run("export", "--site", demo_archive.site_url, "--out",
                    str(tmp_path / "x.warc.gz"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"wpwatch: response {rid} ({_responses(copy.db)[rid]['url']}) does not match its "
        "SHA-256: the archive was changed; run `wpwatch verify`")


@pytest.mark.parametrize("fmt", ["warc", "jsonl"])
def test_export_of_an_empty_site(tmp_path: Path, fmt: str) -> None:
    from archive import Archive

    a = Archive(str(tmp_path / "wpwatch.db"))
    a.site("https://empty.example")
    a.close()
    ww = WPWatch(db=tmp_path / "wpwatch.db", config=tmp_path / "wpwatch.toml")
    out = tmp_path / f"empty.{fmt}"
    assert ww.run("export", "--site", "https://empty.example", "--format", fmt, "--out",
                  str(out)).stdout.startswith("exported 0 versions and 0 changes")
    if fmt == "warc":
        assert tool("warcio.cli", "check", str(out)).returncode == 0
    else:
        assert out.read_bytes() == b""
