"""Text search in the review queue: FTS5 on SQLite, user input taken as plain words."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from tests.test_web_http import Server, server  # noqa: F401  (the running `wpwatch serve`)
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
