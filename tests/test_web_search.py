"""Text search in the review queue: FTS5 on SQLite, user input taken as plain words."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests

from archive import Archive
from archive.migrations import MIGRATIONS
from archive.schema import REVIEW_FTS
from tests.test_web_http import Server, build_archive, server  # noqa: F401  (`wpwatch serve`)
from web import queue
from web.index import Scoring, catch_up
from web.queue import text_query


def test_text_query_quotes_every_word_as_a_string_token() -> None:
    assert text_query('softened "demand') == '"softened"* """demand"*'
    assert text_query("a OR b NEAR(c -d col:e ^f") == (
        '"a"* "OR"* "b"* "NEAR(c"* "-d"* "col:e"* "^f"*')
    assert text_query('" * - : ( )') == ""


def changed_word(running: Server, change_id: int) -> str:
    """A word of the change's changed text."""
    with sqlite3.connect(running.db) as conn:
        (found,) = conn.execute("SELECT search_text FROM review_index WHERE change_id = ?",
                                (change_id,)).fetchone()
    return next(w for w in found.split() if w.isalpha() and len(w) > 5)


def ids(running: Server, headers: dict[str, str], q: str) -> list[int]:
    response = requests.get(running.url + "/api/changes", params={"q": q}, headers=headers,
                            timeout=10)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["changes"]]


def test_search_finds_a_change_by_a_word_of_its_changed_text(server: Server) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {server.token('admin')}"}
    requests.get(server.url + "/api/changes", headers=headers, timeout=10)  # indexed
    word = changed_word(server, 1)
    assert 1 in ids(server, headers, word)
    assert 1 in ids(server, headers, word.upper()[:-2])  # case-insensitive, a prefix
    # FTS5 syntax is plain text: a stray quote, a negation, a NEAR or a column filter
    for q in (f'{word}"', f"{word} -{word}", f"({word}", f"{word} *", f"^{word}"):
        assert 1 in ids(server, headers, q), q
    assert ids(server, headers, f"search_text:{word}") == []
    page = requests.get(server.url + "/", params={"q": word}, timeout=10,
                        headers=headers)
    assert page.status_code == 200


@pytest.mark.parametrize("q", ['"', "* - :", "()"])
def test_a_query_without_a_word_is_a_one_line_error(server: Server, q: str) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {server.token('admin')}"}
    response = requests.get(server.url + "/api/changes", params={"q": q}, headers=headers,
                            timeout=10)
    assert response.status_code == 400
    message = response.json()["error"]
    assert "q must contain a word" in message and "\n" not in message


def test_an_archive_indexed_before_full_text_search_gets_it_on_opening(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    build_archive(db, "http://127.0.0.1:9")
    archive = Archive(str(db))
    catch_up(archive, Scoring())
    archive.close()
    version = next(m.version for m in MIGRATIONS if m.name == "review search")
    with sqlite3.connect(db) as conn:  # what the schema before the full-text index left
        conn.execute(f"DROP TABLE {REVIEW_FTS}")
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (?, '2026-01-01T00:00:00Z')",
                     (version - 1,))
        (changed,) = conn.execute("SELECT search_text FROM review_index WHERE change_id = 1"
                                  ).fetchone()
    word = next(w for w in changed.split() if w.isalpha() and len(w) > 5)
    reopened = Archive(str(db))
    try:
        found = queue.listing(reopened, queue.Filters(q=word))
    finally:
        reopened.close()
    assert 1 in [r["id"] for r in found["changes"]]
    with sqlite3.connect(db) as conn:  # found through the rebuilt index, not a LIKE scan
        matched = conn.execute(f"SELECT rowid FROM {REVIEW_FTS} WHERE {REVIEW_FTS} MATCH ?",
                               (text_query(word),)).fetchall()
    assert (1,) in matched
