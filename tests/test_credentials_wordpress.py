"""Own sites with an application password, against a real WordPress.

The site is watched with ``username`` and ``app_password`` (``env:``
references) in wpwatch.toml: rounds see drafts and scheduled posts, status
moves are changes, every revision WordPress saved is archived with its
author, a revoked password is one clear line, and the password shows up in
no output and no file.
"""

from __future__ import annotations

import base64
import gzip
import re
import sqlite3
import zipfile
import zlib
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.wordpress import WordPressStack, WPSite

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]

PORT_OFFSET = 6  # a site of its own, beside the scenario tests' sites


@pytest.fixture
def own_site(wp_stack: WordPressStack, wpwatch: WPWatch,
             monkeypatch: pytest.MonkeyPatch) -> tuple[WPSite, dict[str, Any]]:
    """A fresh site with editors alice and bob, watched with admin's application password."""
    site = wp_stack.site(wp_stack.port(PORT_OFFSET))
    site.reset()
    site.user("alice")
    site.user("bob")
    password = site.app_password()
    monkeypatch.setenv("OURS_WP_USER", "admin")
    monkeypatch.setenv("OURS_WP_APP_PASSWORD", password["password"])
    wpwatch.config.write_text(
        f'[[sites]]\nname = "ours"\nurl = "{site.url}"\ntypes = ["posts"]\n'
        'username = "env:OURS_WP_USER"\napp_password = "env:OURS_WP_APP_PASSWORD"\n',
        encoding="utf-8",
    )
    return site, password


def last_round(wpwatch: WPWatch) -> dict[str, Any]:
    (site,) = wpwatch.json("status", "--json")
    return site["last_round"]


def test_revisions_drafts_and_scheduled_posts(own_site: tuple[WPSite, dict[str, Any]],
                                              wpwatch: WPWatch) -> None:
    site, password = own_site
    post = site.create("Our statement", "<p>First words.</p>", as_user="alice")["id"]
    draft = site.create("Not yet", "<p>Draft text.</p>", status="draft", as_user="bob")["id"]
    scheduled = site.schedule("Embargoed", "<p>Later.</p>", in_seconds=3600)["id"]
    other = site.create("Goes private", "<p>Soon hidden.</p>")["id"]

    wpwatch.run("crawl")  # the baseline
    assert last_round(wpwatch)["outcome"] == "ok"
    for wp_id, status in ((draft, "draft"), (scheduled, "future"), (post, "publish")):
        h = wpwatch.json("history", "ours", "posts", str(wp_id), "--json")
        polled = [v for v in h["versions"] if v["revision"] is None]
        assert polled[-1]["wp_status"] == status
        assert polled[-1]["public"] is (status == "publish")
    before = len(wpwatch.json("history", "ours", "posts", str(post), "--json")["versions"])

    # Three edits by two users between two polls, and the draft published.
    site.update(post, content="<p>Second words.</p>", as_user="alice")
    site.update(post, content="<p>Third words.</p>", as_user="bob")
    site.update(post, content="<p>Fourth words.</p>", as_user="alice")
    site.update(draft, status="publish", as_user="bob")
    site.publish_due(scheduled)  # goes live: neither its modified nor its date moves
    site.update(other, status="private")
    wpwatch.run("crawl")
    assert last_round(wpwatch)["outcome"] == "ok", last_round(wpwatch)

    h = wpwatch.json("history", "ours", "posts", str(post), "--json")
    new = h["versions"][before:]
    saved = [v["revision"] for v in new if v["revision"] is not None]
    assert len(saved) == 3, new
    assert [r["author_login"] for r in saved] == ["alice", "bob", "alice"]
    assert len({r["id"] for r in saved}) == 3
    text = wpwatch.run("history", "ours", "posts", str(post)).stdout
    # (the three saves may fall in one second: "saved at HH:MM:SS by …")
    assert re.search(r"3 revisions saved (between \S+ and|at) \S+ by 2 users \(alice, bob\)",
                     text), text

    changes = wpwatch.json("changes", "--json")
    moved = [c for c in changes if c["wp_id"] == draft]
    assert [c["kind"] for c in moved] == ["edited"] and "status" in moved[0]["fields"]
    shown = wpwatch.run("show", str(moved[0]["id"]), "--format", "text").stdout
    assert "draft" in shown and "publish" in shown, shown
    (edit,) = [c for c in changes if c["wp_id"] == post and c["kind"] == "edited"]
    for fmt in ("text", "md", "html"):
        shown = wpwatch.run("show", str(edit["id"]), "--format", fmt).stdout
        assert "3 revisions saved" in shown and "2 users (alice, bob)" in shown, shown
    shown_json = wpwatch.json("show", str(edit["id"]), "--format", "json")
    assert [r["author_login"] for r in shown_json["revisions"]] == ["alice", "bob", "alice"]
    for wp_id, old, new in ((scheduled, "future", "publish"), (other, "publish", "private")):
        (moved,) = [c for c in changes if c["wp_id"] == wp_id]
        assert moved["kind"] == "edited" and "status" in moved["fields"], moved
        shown = wpwatch.run("show", str(moved["id"]), "--format", "text").stdout
        assert old in shown and new in shown, shown

    # A round run again stores nothing twice; verify holds with revisions in the chain.
    wpwatch.run("crawl")
    again = wpwatch.json("history", "ours", "posts", str(post), "--json")
    assert len(again["versions"]) == len(h["versions"])
    wpwatch.run("verify")
    assert_no_secret(wpwatch, password["password"])


def test_revoked_password_is_one_clear_line(own_site: tuple[WPSite, dict[str, Any]],
                                            wpwatch: WPWatch) -> None:
    site, password = own_site
    site.create("Our statement", "<p>Words.</p>")
    wpwatch.run("crawl")
    site.revoke_app_password(password["uuid"])
    proc = wpwatch.run("crawl", check=False)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "application password rejected: 401 rest_not_logged_in" in lines[0]
    (status,) = wpwatch.json("status", "--json")
    assert status["degraded"] is False
    assert status["last_round"]["outcome"] == "failed"
    assert password["password"] not in proc.stdout + proc.stderr


def assert_no_secret(wpwatch: WPWatch, secret: str) -> None:
    """The password is in no output, no export, no file of the archive (read decompressed)."""
    out = wpwatch.db.parent
    outputs = [
        wpwatch.run("crawl", "-v").stderr,
        wpwatch.run("export", "--format", "warc", "--site", "ours", "--out",
                    str(out / "a.warc.gz")).stdout,
        wpwatch.run("export", "--format", "jsonl", "--site", "ours", "--out",
                    str(out / "a.jsonl")).stdout,
        wpwatch.run("export", "--format", "wacz", "--out", str(out / "a.wacz")).stdout,
        wpwatch.run("status", "--json").stdout,
        wpwatch.run("changes", "--json").stdout,
    ]
    forms = [secret.encode(), secret.replace(" ", "").encode(),
             base64.b64encode(f"admin:{secret}".encode())]
    for text in outputs:
        assert not any(f.decode() in text for f in forms)
    warc = gzip.decompress((out / "a.warc.gz").read_bytes())
    assert b"Authorization: [redacted]" in warc  # the login was sent, and is not there
    blobs = [warc]
    with zipfile.ZipFile(out / "a.wacz") as wacz:
        for name in wacz.namelist():
            data = wacz.read(name)
            blobs.append(gzip.decompress(data) if name.endswith(".gz") else data)
    for path in out.rglob("*"):
        if path.is_file():
            blobs.append(path.read_bytes())
    with sqlite3.connect(wpwatch.db) as db:  # bodies are stored compressed
        for (body,) in db.execute("SELECT body FROM responses"):
            blobs.append(zlib.decompress(body))
        blobs.append("\n".join(map(str, db.execute("SELECT * FROM responses").fetchall()))
                     .encode())
    for blob in blobs:
        assert not any(f in blob for f in forms)
