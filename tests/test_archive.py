"""The archive's write rules: baseline, new, edited, touch, gone, restored, idempotence."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive import Archive, PostRecord, RawResponse, SiteMemory, TypeState, utcnow
from archive import schema as sch
from archive.cluster import RoundStart
from archive.forget import forget_site
from archive.migrations import MIGRATIONS, SCHEMA_VERSION
from archive.rounds import record_health_event

REPO = Path(__file__).resolve().parent.parent


def rec(wp_id: int, text: str, modified: str = "2026-01-01T00:00:00") -> PostRecord:
    norm = {"title": f"T{wp_id}", "text": [text]}
    h = hashlib.sha256(json.dumps(norm, sort_keys=True).encode()).hexdigest()
    return PostRecord(wp_id, 0, norm, h, modified, "2025-01-01T00:00:00",
                      f"https://x.org/{wp_id}/", f"T{wp_id}", 1)


def resp(body: bytes = b'[{"id":1}]', status: int = 200) -> RawResponse:
    return RawResponse("https://x.org/wp-json/wp/v2/posts", status,
                       [("Content-Type", "application/json")], body, utcnow())


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in new if old.get(k) != new.get(k))


@pytest.fixture
def archive(archive_url: str) -> Iterator[Archive]:
    """An empty archive, once on an SQLite file and once on PostgreSQL (tests/postgres.py)."""
    a = Archive(archive_url)
    yield a
    a.close()


def write(
    archive: Archive, site_id: int, records: list[PostRecord], baseline: bool = False
) -> list[str]:
    out = archive.record_posts(site_id=site_id, round_id=None, type_="posts", response=resp(),
                               records=records, baseline=baseline, compare=diff)
    return [k for _, k in out.changes]


def test_write_rules(archive: Archive) -> None:
    site = archive.site("https://x.org", "x")["id"]
    assert write(archive, site, [rec(1, "a"), rec(2, "b")], baseline=True) == []
    assert write(archive, site, [rec(3, "c")]) == ["new"]
    # the same content again (a touch): nothing stored, no change
    assert write(archive, site, [rec(1, "a", modified="2026-02-01T00:00:00")]) == []
    assert archive.known_posts(site, "posts")[1].modified_gmt == "2026-02-01T00:00:00"
    assert write(archive, site, [rec(1, "a2")]) == ["edited"]
    gone = archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2,
                               kind="unpublished", response=resp(b'{"code":"rest_forbidden"}', 401))
    assert [k for _, k in gone.changes] == ["unpublished"]
    # judged again: no second change
    again = archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2,
                                kind="unpublished", response=resp(b"{}", 401))
    assert again.changes == []
    assert write(archive, site, [rec(2, "b")]) == ["restored"]
    archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=3, kind="deleted",
                        response=resp(b'{"code":"rest_post_invalid_id"}', 404))
    rows = archive.changes()
    assert [(r["wp_id"], r["kind"]) for r in rows] == [
        (3, "new"), (1, "edited"), (2, "unpublished"), (2, "restored"), (3, "deleted")
    ]
    assert rows[1]["fields"] == ["text"]
    h = archive.history("https://x.org", "posts", 1)
    assert h is not None and len(h["versions"]) == 2
    assert h["versions"][0]["sha256"] == hashlib.sha256(b'[{"id":1}]').hexdigest()


def test_unknown_gone_post_is_ignored(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    out = archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=99, kind="deleted",
                              response=resp(b"{}", 404))
    assert out.changes == []


def test_raw_bytes_kept_as_received(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    body = b'\xef\xbb\xbf[{"id":1,"title":"caf\xc3\xa9"}]'
    archive.record_posts(site_id=site, round_id=None, type_="posts", response=resp(body),
                         records=[rec(1, "a")], baseline=True, compare=diff)
    h = archive.history("https://x.org", "posts", 1)
    assert h is not None
    assert h["versions"][0]["sha256"] == hashlib.sha256(body).hexdigest()


def test_stale_running_round_becomes_interrupted(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    rid = archive.start_round(site, full=False)
    assert archive.mark_stale_rounds_interrupted() == 1
    assert archive.round(rid)["outcome"] == "interrupted"


def test_reopen_keeps_schema(tmp_path: Path) -> None:
    a = Archive(str(tmp_path / "a.db"))
    a.site("https://x.org")
    a.close()
    assert Archive(str(tmp_path / "a.db")).find_site("https://x.org") is not None


def test_migrations_are_numbered_in_order_up_to_the_schema_version() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(2, SCHEMA_VERSION + 1))
    assert len({m.name for m in MIGRATIONS}) == len(MIGRATIONS)


# -- opening errors, as a user meets them: the real CLI, one line, nothing touched ----------
def wpwatch_changes(db: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`wpwatch --db DB changes` in a subprocess, as tests/conftest.py's WPWatch runs it."""
    return subprocess.run(
        [sys.executable, "-m", "wpwatch", "--db", db, "--config", str(cwd / "wpwatch.toml"),
         "changes"],
        check=False, capture_output=True, text=True, timeout=120, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def refused(db: str, cwd: Path, message: str) -> None:
    proc = wpwatch_changes(db, cwd)
    assert proc.returncode != 0
    assert proc.stderr == f"wpwatch: {message}\n"
    assert proc.stdout == ""


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_directory_is_not_an_archive(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    refused(str(folder), tmp_path, f"{folder} is a directory, not a wpwatch archive")
    refused(f"sqlite:///{folder}", tmp_path, f"{folder} is a directory, not a wpwatch archive")
    assert list(folder.iterdir()) == []


def test_a_file_that_is_not_sqlite_keeps_its_bytes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"meeting notes, not a database\n" * 100)
    before = listing(tmp_path)
    refused(str(notes), tmp_path, f"{notes} is not a wpwatch archive (not an SQLite file)")
    assert listing(tmp_path) == before  # same bytes, and no -wal, -shm or -journal beside it


def test_an_sqlite_file_of_another_program_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "places.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.execute("INSERT INTO bookmarks VALUES ('https://example.org/')")
    conn.commit()
    conn.close()
    before = listing(tmp_path)
    refused(str(other), tmp_path, f"{other} is not a wpwatch archive (no wpwatch tables)")
    assert listing(tmp_path) == before  # not switched to WAL, no wpwatch tables added


def test_an_archive_from_a_newer_wpwatch_is_refused_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    Archive(str(db)).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_version VALUES (?, '2031-01-01T00:00:00Z')",
                 (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    before = listing(tmp_path)
    refused(str(db), tmp_path,
            f"{db} was written by a newer wpwatch (archive schema {SCHEMA_VERSION + 1}, "
            f"this wpwatch reads up to {SCHEMA_VERSION}): upgrade wpwatch")
    assert listing(tmp_path) == before


def test_a_new_archive_in_a_missing_directory_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    db = missing / "wpwatch.db"
    refused(str(db), tmp_path,
            f"cannot create the archive {db}: the directory {missing} does not exist")
    assert not missing.exists()


def test_postgresql_without_its_driver_says_what_to_install(tmp_path: Path) -> None:
    # psycopg is a test dependency: hide it from the CLI the way a missing package looks
    hidden = tmp_path / "no-psycopg"
    hidden.mkdir()
    (hidden / "psycopg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    url = "postgresql://wpwatch:s3cret-pw@127.0.0.1:1/archive"
    proc = subprocess.run(
        [sys.executable, "-m", "wpwatch", "--db", url, "--config", str(cwd / "wpwatch.toml"),
         "changes"],
        check=False, capture_output=True, text=True, timeout=120, cwd=cwd,
        env={**os.environ, "PYTHONPATH": f"{hidden}{os.pathsep}{REPO}"},
    )
    assert (proc.returncode != 0, proc.stdout) == (True, "")
    assert proc.stderr == (
        "wpwatch: the PostgreSQL driver is not installed: pip install 'psycopg[binary]'\n")
    assert list(cwd.iterdir()) == []


def test_an_unknown_url_scheme_names_the_supported_ones(tmp_path: Path) -> None:
    proc = wpwatch_changes("mysql://wpwatch:s3cret-pw@db.example.org/archive", tmp_path)
    assert proc.returncode != 0
    assert proc.stderr == (
        "wpwatch: unsupported archive URL scheme 'mysql': use a file path, sqlite:///PATH "
        "or postgresql://USER@HOST/DBNAME\n"
    )
    assert "s3cret-pw" not in proc.stderr


def test_an_empty_file_becomes_a_new_archive(tmp_path: Path) -> None:
    db = tmp_path / "touched.db"
    db.touch()
    proc = wpwatch_changes(str(db), tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert Archive(str(db)).list_sites() == []


def test_a_kept_round_memory_is_used_until_any_writer_changes_it(archive_url: str) -> None:
    """A node keeps each site's round memory between rounds: valid only until something
    (this node, another one, a command) writes to the memory."""
    node, other = Archive(archive_url), Archive(archive_url)  # two processes' connections
    try:
        site = other.site("https://x.org", "x")["id"]
        write(other, site, [rec(1, "a"), rec(2, "b")], baseline=True)
        def begin(kept: SiteMemory | None = None) -> SiteMemory:
            """A node's round opened, from the memory it kept (while current)."""
            start = RoundStart(due_at=utcnow(), node="n1", stale="stale")
            return node.begin_round("https://x.org", "x", False, kept, start).memory

        kept = begin()
        assert kept is not None and set(kept.known["posts"]) == {1, 2}
        again = begin(kept)
        assert again is not None and again.known is kept.known  # not read again

        def fresh() -> bool:
            memory = begin(kept)
            return memory is not None and memory.known is not kept.known

        writes = [
            lambda: write(other, site, [rec(3, "c")]),
            lambda: write(other, site, [rec(1, "a", modified="2026-02-01T00:00:00")]),  # touch
            lambda: other.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2,
                                      kind="deleted", response=resp(b"{}", 404)),
            lambda: other.save_type_state(site, TypeState(type="posts", baselined=True)),
            lambda: other.mark_fallback_seen(site, ["https://x.org/feed/"]),
        ]
        for change in writes:
            change()
            assert fresh()
            kept = begin()
            assert kept is not None and not fresh()
        assert kept.known["posts"][2].state == "deleted"
        assert kept.known["posts"][1].modified_gmt == "2026-02-01T00:00:00"
        assert kept.fallback_seen == {"https://x.org/feed/"}
        assert kept.type_states["posts"].baselined

        # the site forgotten and watched again: a new site, never the old memory
        forget_site(other, "https://x.org")
        other.site("https://x.org", "x")
        memory = begin(kept)
        assert memory is not None and memory.known == {}
    finally:
        node.close()
        other.close()


def test_a_nodes_round_start_records_its_delay_ends_a_stale_round_and_says_the_health(
        archive: Archive) -> None:
    """What a node's round start does, on a site's first round and on a known site's (on
    PostgreSQL one statement, `archive.cluster.start_on_known_site`)."""
    url = "https://x.org"

    def begin(name: str, stale: str, full: bool = False) -> Any:
        return archive.begin_round(url, name, full, None,
                                   RoundStart(due_at=f"2026-01-01T00:00:0{len(starts())}Z",
                                              node="n1", stale=stale))

    def starts() -> list[Any]:
        r = sch.round_starts.c
        with archive.engine.connect() as conn:
            return conn.execute(select(r.site_url, r.due_at, r.node).order_by(r.id)).all()

    first = begin("x", "never used")  # the site's first round: its row made
    assert archive.find_site(url) is not None and first.health is None
    assert archive.round(first.round_id)["outcome"] == "running"
    assert starts() == [(url, "2026-01-01T00:00:00Z", "n1")]

    # the first round never finished (its node was killed): the next start ends it
    second = begin("x", "its node stopped", full=True)
    assert second.site_id == first.site_id and second.round_id != first.round_id
    cut = archive.round(first.round_id)
    assert (cut["outcome"], cut["error"]) == ("interrupted", "its node stopped")
    assert cut["finished_at"] is not None
    opened = archive.round(second.round_id)
    assert (opened["outcome"], opened["full"]) == ("running", True)
    assert starts()[1:] == [(url, "2026-01-01T00:00:01Z", "n1")]
    archive.finish_round(second.round_id, outcome="failed", requests=1, bytes_=0, errors=1,
                         error="HTTP 500", stored_posts=False)

    with archive.engine.begin() as conn:  # the watch judged the site failing
        record_health_event(conn, first.site_id, kind="site-failing", state="failing",
                            round_id=second.round_id, since=utcnow(), rounds=3, reason="x")
    third = begin("renamed", "unused: nothing was running")
    assert third.health == "failing" and third.memory.site["name"] == "renamed"
    assert archive.find_site(url)["name"] == "renamed"  # type: ignore[index]
    assert archive.round(second.round_id)["outcome"] == "failed"  # a finished round stays
    assert len(starts()) == 3
    done = archive.finish_round(third.round_id, outcome="ok", requests=7, bytes_=900, errors=0,
                                error=None, stored_posts=False)
    assert (done["outcome"], done["requests"], done["bytes"]) == ("ok", 7, 900)
    assert done["counts"] == {k: 0 for k in done["counts"]} and done["finished_at"]
