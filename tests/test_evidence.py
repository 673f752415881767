"""The hash chain and `wpwatch verify`: an untouched archive verifies clean, every kind of
tampering with the SQLite file is caught and named, old archives get a chain.

The archive is built once by the real `wpwatch crawl` against the bundled demo site
(baseline, one change of each kind, a --full round); each test tampers with its own copy
through sqlite3, as someone with the file would, and runs the real `wpwatch verify`.
"""

from __future__ import annotations

import doctest
import hashlib
import json
import re
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archive import Archive, PostRecord, RawResponse, schema
from archive import revisions as revisions_module
from archive.chain import GENESIS, canonical_json, link_hash, sha256_hex
from archive.store import SCHEMA_VERSION
from diffs.normalize import content_hash
from tests.conftest import WPWatch
from wpwatch.demo.server import DemoServer, apply_demo_changes, load_demo_site


@dataclass
class DemoArchive:
    db: Path
    site_url: str


def build_demo_archive(directory: Path) -> DemoArchive:
    """Baseline, one change of each kind, a --full round, three hidden edits, a restore."""
    directory.mkdir(parents=True, exist_ok=True)
    ww = WPWatch(db=directory / "wpwatch.db", config=directory / "wpwatch.toml")
    site = load_demo_site()
    with DemoServer(site, prefix="/en") as server:
        url = server.url_for(site).rstrip("/")
        ww.run("crawl", url)
        changed = apply_demo_changes(site)
        ww.run("crawl", url)
        ww.run("crawl", "--full", url)
        edited = next(c["id"] for c in changed if c["kind"] == "edited")
        for i in range(3):  # three saves between two polls: two of them never seen
            site.edit(edited, title=f"Hidden edit {i}")
        unpublished = next(c["id"] for c in changed if c["kind"] == "unpublished")
        site.edit(unpublished, status="publish")
        ww.run("crawl", url)
    return DemoArchive(ww.db, url)


_BUILT: dict[str, DemoArchive] = {}


def shared_demo_archive(factory: pytest.TempPathFactory) -> DemoArchive:
    """The demo archive, built once per session for every test file that asks."""
    if "demo" not in _BUILT:
        _BUILT["demo"] = build_demo_archive(factory.mktemp("evidence") / "built")
    return _BUILT["demo"]


def copy_archive(demo: DemoArchive, directory: Path) -> WPWatch:
    """A private copy of the demo archive (one file, WAL folded in) and a CLI on it."""
    ww = WPWatch(db=directory / "wpwatch.db", config=directory / "wpwatch.toml")
    src = sqlite3.connect(demo.db)
    dst = sqlite3.connect(ww.db)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    return ww


def sql(db: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Tamper the way someone with the file would: plain sqlite3, no foreign keys."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def verify(ww: WPWatch, *args: str) -> tuple[int, str]:
    proc = ww.run("verify", *args, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, proc.stdout


def broken_at(out: str) -> int:
    m = re.search(r"BROKEN at link #(\d+) of \d+", out)
    assert m, out
    return int(m.group(1))


def link_of(db: Path, record: str, record_id: int) -> int:
    ((seq,),) = sql(db, "SELECT seq FROM chain_links WHERE record=? AND record_id=?",
                    record, record_id)
    return int(seq)


# -- an untouched archive ---------------------------------------------------------------------
def test_untouched_archive_verifies_clean(copy: WPWatch) -> None:
    code, out = verify(copy)
    assert code == 0, out
    assert "archive intact" in out
    versions, changes, links = (
        sql(copy.db, f"SELECT count(*) FROM {t}")[0][0] for t in ("versions", "changes",
                                                                   "chain_links"))
    assert links == versions + changes and changes >= 6
    m = re.search(r"intact: (\d+) links \((\d+) versions, (\d+) changes\)", out)
    assert m and [int(x) for x in m.groups()] == [links, versions, changes]


def test_chain_is_contiguous_and_covers_each_record_in_write_order(copy: WPWatch) -> None:
    rows = sql(copy.db, "SELECT seq, record, record_id, canonical, record_hash, prev_hash, "
                        "chain_hash FROM chain_links ORDER BY seq")
    prev = GENESIS
    for i, (seq, record, _record_id, canonical, record_hash, prev_hash, chain_hash) in enumerate(
        rows, 1
    ):
        assert seq == i and prev_hash == prev
        assert record_hash == sha256_hex(canonical.encode())
        assert chain_hash == link_hash(seq, prev_hash, record_hash)
        rec = json.loads(canonical)
        assert rec["record"] == record
        prev = chain_hash
    # a change is chained after the version it points to
    for change_id, to_version in sql(copy.db, "SELECT id, to_version_id FROM changes "
                                              "WHERE to_version_id IS NOT NULL"):
        assert link_of(copy.db, "change", change_id) > link_of(copy.db, "version", to_version)
    # a version's canonical record names its response's bytes and its place in them
    vid, item_index, sha = sql(copy.db, "SELECT v.id, v.item_index, r.sha256 FROM versions v "
                                        "JOIN responses r ON r.id = v.response_id LIMIT 1")[0]
    ((canonical,),) = sql(copy.db, "SELECT canonical FROM chain_links WHERE record='version' "
                                   "AND record_id=?", vid)
    rec = json.loads(canonical)
    assert rec["response"]["sha256"] == sha and rec["item_index"] == item_index
    assert {"site", "type", "wp_id", "fetched_at"} <= set(rec) and rec["response"]["url"]


# -- every kind of tampering ------------------------------------------------------------------
def _listing_response(db: Path) -> int:
    """A response that holds several versions (a listing)."""
    ((rid,),) = sql(db, "SELECT response_id FROM versions GROUP BY response_id "
                        "HAVING count(*) > 3 ORDER BY response_id LIMIT 1")
    return int(rid)


def _first_link_citing(db: Path, response_id: int) -> int:
    ((seq,),) = sql(db, "SELECT min(l.seq) FROM chain_links l JOIN versions v "
                        "ON l.record='version' AND l.record_id=v.id WHERE v.response_id=?",
                    response_id)
    return int(seq)


def test_a_flipped_byte_of_a_stored_response_is_caught(copy: WPWatch) -> None:
    rid = _listing_response(copy.db)
    ((body,),) = sql(copy.db, "SELECT body FROM responses WHERE id=?", rid)
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 0x01
    sql(copy.db, "UPDATE responses SET body=? WHERE id=?", bytes(flipped), rid)
    code, out = verify(copy)
    assert code == 1
    assert broken_at(out) == _first_link_citing(copy.db, rid)
    assert f"raw bytes of response {rid} (GET " in out and "were changed" in out


def test_an_edited_byte_of_the_raw_json_is_caught(copy: WPWatch) -> None:
    """Decompress, change one character of the JSON, recompress: a clean-looking edit."""
    rid = _listing_response(copy.db)
    ((body, sha),) = sql(copy.db, "SELECT body, sha256 FROM responses WHERE id=?", rid)
    raw = zlib.decompress(body)
    edited = raw.replace(b"Foundation", b"Foundatiom", 1)
    assert edited != raw
    sql(copy.db, "UPDATE responses SET body=? WHERE id=?", zlib.compress(edited), rid)
    code, out = verify(copy)
    assert code == 1
    assert broken_at(out) == _first_link_citing(copy.db, rid)
    assert f"their SHA-256 is now {hashlib.sha256(edited).hexdigest()[:16]}" in out
    assert f"the archive recorded {sha[:16]}" in out


def test_edited_bytes_with_a_matching_new_hash_are_caught_by_the_chain(copy: WPWatch) -> None:
    """The careful forger also rewrites the sha256 column: the chain still names the old one."""
    rid = _listing_response(copy.db)
    ((body, sha),) = sql(copy.db, "SELECT body, sha256 FROM responses WHERE id=?", rid)
    edited = zlib.decompress(body).replace(b"Foundation", b"F0undation", 1)
    new_sha = hashlib.sha256(edited).hexdigest()
    sql(copy.db, "UPDATE responses SET body=?, sha256=? WHERE id=?",
        zlib.compress(edited), new_sha, rid)
    code, out = verify(copy)
    assert code == 1
    assert broken_at(out) == _first_link_citing(copy.db, rid)
    assert f'response.sha256 was "{sha[:30]}' in out and "was changed after it was chained" in out


def test_a_backdated_version_is_caught_with_the_field_named(copy: WPWatch) -> None:
    vid, fetched = sql(copy.db, "SELECT id, fetched_at FROM versions ORDER BY id DESC LIMIT 1")[0]
    sql(copy.db, "UPDATE versions SET fetched_at='2020-01-01T00:00:00.000Z' WHERE id=?", vid)
    code, out = verify(copy)
    assert code == 1
    assert broken_at(out) == link_of(copy.db, "version", vid)
    assert f'fetched_at was "{fetched}", is now "2020-01-01T00:00:00.000Z"' in out


def test_a_removed_version_is_caught(copy: WPWatch) -> None:
    ((vid,),) = sql(copy.db, "SELECT id FROM versions WHERE id NOT IN (SELECT to_version_id "
                             "FROM changes WHERE to_version_id IS NOT NULL) ORDER BY id LIMIT 1")
    seq = link_of(copy.db, "version", vid)
    sql(copy.db, "DELETE FROM versions WHERE id=?", vid)
    code, out = verify(copy)
    assert code == 1
    assert broken_at(out) == seq
    assert re.search(rf"link #{seq}: version {vid} \(posts/\d+ at [^)]+\) was removed", out), out


def test_a_removed_change_is_caught(copy: WPWatch) -> None:
    ((cid,),) = sql(copy.db, "SELECT id FROM changes WHERE kind='deleted'")
    seq = link_of(copy.db, "change", cid)
    sql(copy.db, "DELETE FROM changes WHERE id=?", cid)
    code, out = verify(copy)
    assert code == 1 and broken_at(out) == seq
    assert f"change {cid} (deleted posts/" in out and "was removed from the archive" in out


def test_a_record_removed_with_its_link_is_caught(copy: WPWatch) -> None:
    ((cid,),) = sql(copy.db, "SELECT id FROM changes WHERE kind='unpublished'")
    seq = link_of(copy.db, "change", cid)
    sql(copy.db, "DELETE FROM changes WHERE id=?", cid)
    sql(copy.db, "DELETE FROM chain_links WHERE record='change' AND record_id=?", cid)
    code, out = verify(copy)
    assert code == 1 and broken_at(out) == seq
    assert f"links #{seq}…#{seq} are missing: 1 record(s) removed together with their links" in out


def test_two_swapped_version_rows_are_caught(copy: WPWatch) -> None:
    """Exchange the contents of two version rows (ids stay): each link now finds the other."""
    a, b = (r[0] for r in sql(copy.db, "SELECT id FROM versions ORDER BY id LIMIT 2 OFFSET 2"))
    cols = [r[1] for r in sql(copy.db, "PRAGMA table_info(versions)") if r[1] != "id"]
    row_a = sql(copy.db, f"SELECT {', '.join(cols)} FROM versions WHERE id=?", a)[0]
    row_b = sql(copy.db, f"SELECT {', '.join(cols)} FROM versions WHERE id=?", b)[0]
    sets = ", ".join(f"{c}=?" for c in cols)
    sql(copy.db, "UPDATE versions SET post_id=-1, response_id=-1 WHERE id=?", a)  # free the key
    sql(copy.db, f"UPDATE versions SET {sets} WHERE id=?", *row_a, b)
    sql(copy.db, f"UPDATE versions SET {sets} WHERE id=?", *row_b, a)
    seq_a, seq_b = link_of(copy.db, "version", a), link_of(copy.db, "version", b)
    code, out = verify(copy)
    assert code == 1 and broken_at(out) == min(seq_a, seq_b)
    assert (f"link #{seq_a}: version {a} " in out
            and f"now holds the record chained at link #{seq_b} (version {b}): rows swapped" in out)


def test_reordered_links_are_caught(copy: WPWatch) -> None:
    """Swap the sequence numbers of two links: the records now claim the other's place."""
    (n,) = sql(copy.db, "SELECT max(seq) FROM chain_links")[0]
    x, y = 3, n - 2
    sql(copy.db, "UPDATE chain_links SET seq=-1 WHERE seq=?", x)
    sql(copy.db, "UPDATE chain_links SET seq=? WHERE seq=?", x, y)
    sql(copy.db, "UPDATE chain_links SET seq=? WHERE seq=-1", y)
    code, out = verify(copy)
    assert code == 1 and broken_at(out) == x
    assert f"link #{x}: out of order: this is the record chained as link #{y}, renumbered" in out
    assert f"link #{y}: out of order: this is the record chained as link #{x}, renumbered" in out
    assert (f"link #{x + 1}: out of order: it was chained right after the link now numbered "
            f"#{y}, not after #{x}") in out
    assert "the link itself was edited" not in out


def test_a_forged_change_added_afterwards_is_caught(copy: WPWatch) -> None:
    site_id, post_id = sql(copy.db, "SELECT site_id, id FROM posts LIMIT 1")[0]
    sql(copy.db, "INSERT INTO changes (site_id, post_id, kind, fields, detected_at) "
                 "VALUES (?, ?, 'deleted', '[]', '2026-01-01T00:00:00.000Z')", site_id, post_id)
    code, out = verify(copy)
    assert code == 1
    assert "BROKEN outside the chain" in out
    assert "is in no chain link: it was added to the archive outside wpwatch" in out


def test_edited_normalized_content_is_caught(copy: WPWatch) -> None:
    vid, blob = sql(copy.db, "SELECT id, normalized FROM versions ORDER BY id LIMIT 1")[0]
    norm = json.loads(zlib.decompress(blob))
    norm["title"] = "Something else"
    sql(copy.db, "UPDATE versions SET normalized=? WHERE id=?",
        zlib.compress(canonical_json(norm)), vid)
    code, out = verify(copy)
    assert code == 1 and broken_at(out) == link_of(copy.db, "version", vid)
    assert f"the normalized content of version {vid} no longer matches its content hash" in out


def test_an_edited_link_is_caught(copy: WPWatch) -> None:
    sql(copy.db, "UPDATE chain_links SET canonical=replace(canonical, '\"posts\"', '\"pages\"') "
                 "WHERE seq=2")
    code, out = verify(copy)
    assert code == 1 and broken_at(out) == 2
    assert "link #2: the link itself was edited" in out


def test_verify_json_and_site_filter(copy: WPWatch, demo_archive: DemoArchive) -> None:
    rid = _listing_response(copy.db)
    sql(copy.db, "UPDATE responses SET body=? WHERE id=?", zlib.compress(b"[]"), rid)
    proc = copy.run("verify", "--json", "--site", demo_archive.site_url, check=False)
    assert proc.returncode == 1
    (site,) = json.loads(proc.stdout)
    assert site["ok"] is False and site["first_broken_link"] == _first_link_citing(copy.db, rid)
    assert site["problems"][0]["seq"] == site["first_broken_link"]
    unknown = copy.run("verify", "--site", "https://nowhere.example", check=False)
    assert unknown.returncode == 2 and unknown.stderr.startswith("wpwatch: no site")


# -- the chain in the store -------------------------------------------------------------------
def _rec(wp_id: int, text: str) -> PostRecord:
    norm = {"title": f"T{wp_id}", "text": [text]}
    return PostRecord(wp_id, wp_id - 1, norm, content_hash(norm), "2026-01-01T00:00:00",
                      "2025-01-01T00:00:00", f"https://x.org/{wp_id}/", f"T{wp_id}", 2)


def _resp(body: bytes = b'[{"id":1},{"id":2}]', status: int = 200) -> RawResponse:
    return RawResponse("https://x.org/wp-json/wp/v2/posts?include=1,2", status,
                       [("Content-Type", "application/json")], body, "2026-01-01T00:00:00.000Z")


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in new if old.get(k) != new.get(k))


def _write(a: Archive, site_id: int, records: list[PostRecord], baseline: bool = False) -> None:
    a.record_posts(site_id=site_id, round_id=None, type_="posts", response=_resp(),
                   records=records, baseline=baseline, compare=_diff)


def _verify_ok(a: Archive) -> None:
    from archive.verify import verify_archive

    reports = verify_archive(a)
    assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]


@pytest.fixture
def archive(archive_url: str) -> Iterator[Archive]:
    """An empty archive, once on an SQLite file and once on PostgreSQL (tests/postgres.py)."""
    a = Archive(archive_url)
    yield a
    a.close()


def test_a_round_run_twice_chains_nothing_twice(archive: Archive) -> None:
    site = archive.site("https://x.org", "x")["id"]
    _write(archive, site, [_rec(1, "a"), _rec(2, "b")], baseline=True)
    _write(archive, site, [_rec(1, "a2")])
    head = archive.chain_head(site)
    assert head is not None and head[0] == 4  # 3 versions and the edit
    _write(archive, site, [_rec(1, "a2"), _rec(2, "b")])  # the same round again
    assert archive.chain_head(site) == head
    archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2, kind="deleted",
                        response=_resp(b'{"code":"rest_post_invalid_id"}', 404))
    archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2, kind="deleted",
                        response=_resp(b"{}", 404))
    assert archive.chain_head(site) is not None and archive.chain_head(site)[0] == 5
    _write(archive, site, [_rec(2, "b")])  # restored with the same content: a change, no version
    assert archive.chain_head(site)[0] == 6
    _verify_ok(archive)


def test_sites_have_separate_chains(archive: Archive) -> None:
    x = archive.site("https://x.org")["id"]
    y = archive.site("https://y.org")["id"]
    _write(archive, x, [_rec(1, "a")], baseline=True)
    _write(archive, y, [_rec(1, "a")], baseline=True)
    _write(archive, x, [_rec(2, "b")])
    assert archive.chain_head(x)[0] == 3 and archive.chain_head(y)[0] == 1
    assert archive.chain_head(x)[1] != archive.chain_head(y)[1]
    _verify_ok(archive)


def test_the_link_is_written_in_the_records_transaction(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = archive.site("https://x.org")["id"]
    _write(archive, site, [_rec(1, "a")], baseline=True)

    def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("archive.chain.ChainWriter.append", refuse)
    with pytest.raises(RuntimeError):
        _write(archive, site, [_rec(1, "a2")])
    monkeypatch.undo()
    with archive.engine.connect() as conn:
        assert conn.execute(schema.versions.select()).all().__len__() == 1
        assert conn.execute(schema.changes.select()).all() == []
        assert conn.execute(schema.responses.select()).all().__len__() == 1
    _verify_ok(archive)


def test_a_v2_archive_gets_a_chain_from_its_first_record(tmp_path: Path) -> None:
    """Build records, then make the file what schema 2 left: no chain tables, version 2."""
    db = tmp_path / "old.db"
    a = Archive(str(db))
    site = a.site("https://x.org")["id"]
    _write(a, site, [_rec(1, "a"), _rec(2, "b")], baseline=True)
    _write(a, site, [_rec(1, "a2"), _rec(3, "c")])
    a.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2, kind="unpublished",
                  response=_resp(b'{"code":"rest_forbidden"}', 401))
    a.close()
    sql(db, "DROP TABLE chain_links")
    sql(db, "DROP TABLE chain_stamps")
    sql(db, "DELETE FROM schema_version")
    sql(db, "INSERT INTO schema_version VALUES (1, '2026-01-01T00:00:00Z')")
    sql(db, "INSERT INTO schema_version VALUES (2, '2026-01-01T00:00:00Z')")

    b = Archive(str(db))  # migration 3 runs here
    try:
        assert sql(db, "SELECT max(version) FROM schema_version") == [(SCHEMA_VERSION,)]
        links = sql(db, "SELECT seq, record, record_id FROM chain_links ORDER BY seq")
        assert [s for s, _, _ in links] == list(range(1, 8))  # 4 versions + 3 changes
        order = [(r, i) for _, r, i in links]
        assert order[:2] == [("version", 1), ("version", 2)]
        assert order.index(("change", 1)) > order.index(("version", 3))
        _verify_ok(b)
        _write(b, site, [_rec(3, "c2")])  # and the chain goes on from there
        assert b.chain_head(site)[0] == 9
        _verify_ok(b)
    finally:
        b.close()
    assert Archive(str(db)).chain_head(site)[0] == 9  # reopening migrates nothing again


# -- hidden edits -------------------------------------------------------------------------------
def test_revisions_between_doctests() -> None:
    result = doctest.testmod(revisions_module)
    assert result.attempted >= 4 and result.failed == 0


def test_hidden_edits_show_in_revision_counts(copy: WPWatch, demo_archive: DemoArchive) -> None:
    from archive.revisions import revisions_between

    ((wp_id,),) = sql(copy.db, "SELECT wp_id FROM posts "
                               "WHERE title LIKE 'Hidden edit%'")
    h = copy.json("history", demo_archive.site_url, "posts", str(wp_id), "--json")
    counts = [v["revision_count"] for v in h["versions"]]
    assert len(counts) >= 3 and all(isinstance(c, int) for c in counts)
    # between the last two polls the site saved three revisions; we saw one of them
    assert revisions_between(counts[-2], counts[-1]) == "3 saved revisions since last seen"


def test_verify_reads_one_moment_while_a_round_writes(
    archive_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round that commits while verify is between its queries is not taken for tampering."""
    import archive.verify as av

    a, writer = Archive(archive_url), Archive(archive_url)
    site = a.site("https://x.org")["id"]
    _write(a, site, [_rec(1, "a"), _rec(2, "b")], baseline=True)
    real = av.version_records
    wrote = []

    def records_then_a_round(conn: Any, site_id: int) -> Any:
        out = real(conn, site_id)
        if not wrote:  # a concurrent round: a new version, its change and their links
            _write(writer, site, [_rec(1, "a2"), _rec(3, "c")])
            wrote.append(True)
        return out

    monkeypatch.setattr(av, "version_records", records_then_a_round)
    (report,) = av.verify_archive(a)
    assert wrote and report.ok, [str(p) for p in report.problems]
    assert report.links == 2
    monkeypatch.undo()
    (report,) = av.verify_archive(a)
    assert report.ok and report.links == 6
    a.close()
    writer.close()
