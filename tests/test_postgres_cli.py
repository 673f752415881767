"""The real `wpwatch` commands on a PostgreSQL archive (`--db postgresql://…`): crawl the
bundled demo site, then changes, show, history, status, verify (clean, then tampered), export
(JSON lines and WARC), report; and the one-line errors of a server that is not there."""

from __future__ import annotations

import json
import socket
import zlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update

from archive import schema
from archive.opening import db_url
from core.values import KINDS
from tests.conftest import WPWatch
from wpwatch.demo.server import DemoServer, apply_demo_changes, load_demo_site


@pytest.fixture
def on_postgres(postgres_url: str, tmp_path: Path) -> WPWatch:
    return WPWatch(db=tmp_path / "wpwatch.db", config=tmp_path / "wpwatch.toml", url=postgres_url)


def count(url: str, table: str) -> int:
    engine = create_engine(db_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())
    finally:
        engine.dispose()


def test_every_command_on_a_postgresql_archive(on_postgres: WPWatch, tmp_path: Path) -> None:
    ww = on_postgres
    assert ww.url is not None
    site = load_demo_site()
    with DemoServer(site, prefix="/en") as server:
        url = server.url_for(site).rstrip("/")
        ww.run("crawl", url)
        changed = apply_demo_changes(site)
        ww.run("crawl", url)
        ww.run("crawl", "--full", url)
        versions = count(ww.url, "versions")
        ww.run("crawl", url)  # nothing moved: a quiet round stores nothing
        assert count(ww.url, "versions") == versions

    changes = ww.json("changes", "--json")
    assert sorted(c["kind"] for c in changes) == sorted(c["kind"] for c in changed)
    assert {c["kind"] for c in changes} >= set(KINDS) - {"restored"}
    assert all(c["site"] == url for c in changes)
    edited = next(c for c in changes if c["kind"] == "edited")
    shown = json.loads(ww.run("show", str(edited["id"]), "--format", "json").stdout)
    assert shown["change"]["id"] == edited["id"] and shown["change"]["kind"] == "edited"
    history = ww.json("history", url, edited["type"], str(edited["wp_id"]), "--json")
    assert len(history["versions"]) == 2

    (status,) = ww.json("status", "--json")
    assert status["url"] == url and status["last_round"]["outcome"] == "ok"
    assert not any(status["last_round"]["changes"].values())  # the quiet round

    proc = ww.run("verify")
    assert "archive intact" in proc.stdout

    jsonl = tmp_path / "site.jsonl"
    ww.run("export", "--site", url, "--format", "jsonl", "--out", str(jsonl))
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    coverage = lines.pop()  # last: the four rounds the site was watched in
    assert coverage["record"] == "coverage" and len(coverage["round_log"]) == 4
    assert len(lines) == versions + len(changes)
    warc = tmp_path / "site.warc.gz"
    ww.run("export", "--site", url, "--format", "warc", "--out", str(warc))
    assert warc.stat().st_size > 0
    ww.run("report", "--since", "7d", "--out", str(tmp_path / "report"))
    assert (tmp_path / "report" / "index.html").exists()

    # tampering, as someone with write access to the database would: caught and named
    engine = create_engine(db_url(ww.url))
    with engine.begin() as conn:
        r = schema.responses.c
        first = conn.execute(select(func.min(r.id))).scalar_one()
        conn.execute(update(schema.responses).where(r.id == first)
                     .values(body=zlib.compress(b"[]")))
    engine.dispose()
    proc = ww.run("verify", check=False)
    assert proc.returncode == 1 and "BROKEN at link #" in proc.stdout


def test_the_schema_is_the_same_on_both_engines(postgres_url: str, tmp_path: Path) -> None:
    """A PostgreSQL archive has every table, column and unique key an SQLite one has."""
    from sqlalchemy import inspect

    from archive import Archive

    shapes = []
    for where in (str(tmp_path / "a.db"), postgres_url):
        a = Archive(where)
        try:
            with a.engine.connect() as conn:
                insp = inspect(conn)
                shapes.append({
                    name: (
                        sorted(c["name"] for c in insp.get_columns(name)),
                        # PostgreSQL lists a unique constraint's index too: a set of keys
                        {tuple(i["column_names"]) for i in insp.get_indexes(name)
                         if i["unique"]}
                        | {tuple(u["column_names"]) for u in insp.get_unique_constraints(name)},
                    )
                    for name in sorted(insp.get_table_names())
                    # the workspace's full-text index is SQLite's FTS5 (a virtual table
                    # and its shadow tables); PostgreSQL searches without one
                    if not name.startswith(schema.REVIEW_FTS)
                })
        finally:
            a.close()
    sqlite_shape, postgres_shape = shapes
    assert postgres_shape == sqlite_shape
    assert set(sqlite_shape) == set(schema.metadata.tables)


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ww = WPWatch(db=tmp_path / "wpwatch.db", config=tmp_path / "wpwatch.toml",
                 url=f"postgresql://wpwatch:s3cret-pw@127.0.0.1:{port}/archive")
    for command in (("status",), ("verify",), ("changes",)):
        proc = ww.run(*command, check=False)
        assert proc.returncode != 0 and proc.stdout == ""
        assert proc.stderr.startswith(
            f"wpwatch: cannot open the archive postgresql://wpwatch:***@127.0.0.1:{port}/archive: ")
        assert len(proc.stderr.splitlines()) == 1 and "s3cret-pw" not in proc.stderr


def test_a_missing_database_names_it(postgres_server: object, tmp_path: Path) -> None:
    from tests.postgres import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    url = postgres_server.url("no_such_archive")
    ww = WPWatch(db=tmp_path / "wpwatch.db", config=tmp_path / "wpwatch.toml", url=url)
    proc = ww.run("changes", check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith(f"wpwatch: cannot open the archive {url}: ")
    assert 'database "no_such_archive" does not exist' in proc.stderr
    engine = create_engine(db_url(postgres_server.url()))
    with engine.connect() as conn:  # and nothing was created on the server
        names = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
    engine.dispose()
    assert "no_such_archive" not in names
