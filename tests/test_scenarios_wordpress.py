"""The spine against a real WordPress: every change kind, named correctly, nothing else.

Each scenario runs the real `wpwatch crawl` (a subprocess) against a real
WordPress (Debian's package on php -S + MariaDB, tests/wordpress.py) mutated
through WordPress's own functions (tests/wp/ctl.php), and checks that
`wpwatch changes --json` lists exactly the expected (type, wp_id, kind)
records, round by round.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.wordpress import WordPressStack

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]

SITES = {
    # id: (port offset, timezone, permalink structure)
    "utc-pretty": (2, "UTC", "/%postname%/"),
    "shanghai": (3, "Asia/Shanghai", "/%postname%/"),
    "plain-permalinks": (4, "UTC", ""),
}


def new_changes(wpwatch: WPWatch, seen: int) -> tuple[list[dict[str, Any]], int]:
    rows = wpwatch.json("changes", "--json")
    return rows[seen:], len(rows)


def kinds(rows: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return sorted((r["type"], r["wp_id"], r["kind"]) for r in rows)


def last_round(wpwatch: WPWatch) -> dict[str, Any]:
    (site,) = wpwatch.json("status", "--json")
    return site["last_round"]


@pytest.mark.parametrize("variant", list(SITES), ids=list(SITES))
def test_every_change_kind(wp_stack: WordPressStack, wpwatch: WPWatch, variant: str) -> None:
    offset, tz, permalinks = SITES[variant]
    site = wp_stack.site(wp_stack.port(offset), timezone=tz, permalinks=permalinks)
    site.reset()

    # ~40 items across posts, pages and a custom type, with terms.
    posts = [
        site.create(f"Statement {i}", f"<p>Paragraph one of statement {i}.</p><p>Second {i}.</p>",
                    categories="Statements" if i % 2 else "News", tags=f"tag{i % 3}",
                    topics="economy" if i % 4 == 0 else None)["id"]
        for i in range(20)
    ]
    pages = [site.create(f"Page {i}", f"<p>About us {i}</p>", type="page")["id"] for i in range(8)]
    books = [site.create(f"Book {i}", f"<p>Chapter {i}</p>", type="book")["id"] for i in range(7)]
    scheduled = site.schedule("Embargoed report", "<p>Released later.</p>", in_seconds=3600)["id"]
    site.create("A draft", "<p>not public</p>", status="draft")

    # Round 0: a baseline, no changes.
    wpwatch.run("crawl", site.url)
    rows, seen = new_changes(wpwatch, 0)
    assert rows == []
    assert last_round(wpwatch)["outcome"] == "ok"
    history = wpwatch.json("history", site.url, "posts", str(posts[0]), "--json")
    assert len(history["versions"]) == 1 and history["post"]["state"] == "published"

    # Round 1: one mutation of each kind.
    fresh = site.create("Fresh statement", "<p>Published today.</p>", categories="News")["id"]
    site.update(posts[0], content="<p>Paragraph one of statement 0, softened.</p><p>Second 0.</p>")
    site.update(posts[1], title="Statement 1 (corrected)")
    site.touch(posts[2])  # re-saved, nothing changed: no record
    site.trash(posts[3])
    site.delete(posts[4])
    site.publish_due(scheduled)  # goes live with its old modified stamp
    backdated = site.create("Old report, imported", "<p>From 2019.</p>",
                            date="2019-03-01T10:00:00Z")["id"]
    site.update(posts[5], status="draft")
    site.trash(posts[6])
    site.update(pages[0], content="<p>About us 0, rewritten.</p>")
    site.delete(books[0])
    new_book = site.create("Book new", "<p>Chapter new</p>", type="book")["id"]
    site.set_terms(posts[7], categories="Retracted")  # no modified bump: --full only

    wpwatch.run("crawl", site.url)
    rows, seen = new_changes(wpwatch, seen)
    assert kinds(rows) == sorted([
        ("posts", fresh, "new"),
        ("posts", posts[0], "edited"),
        ("posts", posts[1], "edited"),
        ("posts", posts[3], "unpublished"),
        ("posts", posts[4], "deleted"),
        ("posts", scheduled, "new"),
        ("posts", backdated, "new"),
        ("posts", posts[5], "unpublished"),
        ("posts", posts[6], "unpublished"),
        ("pages", pages[0], "edited"),
        ("books", books[0], "deleted"),
        ("books", new_book, "new"),
    ])
    by_id = {(r["type"], r["wp_id"]): r for r in rows}
    assert by_id[("posts", posts[0])]["fields"] == ["content"]
    assert by_id[("posts", posts[1])]["fields"] == ["title"]
    assert by_id[("pages", pages[0])]["fields"] == ["content"]
    assert by_id[("posts", fresh)]["url"].startswith(site.url)
    assert by_id[("posts", posts[1])]["title"] == "Statement 1 (corrected)"
    assert last_round(wpwatch)["outcome"] == "ok"

    # Round 2: a restore, and a balanced round (one unseen publication and one
    # deletion leave X-WP-Total unchanged; both must be found).
    site.untrash(posts[6], previous_status=True)
    site.delete(posts[8])
    balanced = site.create("Imported later", "<p>Old news.</p>", date="2018-01-01T00:00:00Z")["id"]
    wpwatch.run("crawl", site.url)
    rows, seen = new_changes(wpwatch, seen)
    assert kinds(rows) == sorted([
        ("posts", posts[6], "restored"),
        ("posts", posts[8], "deleted"),
        ("posts", balanced, "new"),
    ])

    # Round 3: --full re-reads everything and finds the term change that never
    # moved `modified`.
    wpwatch.run("crawl", "--full", site.url)
    rows, seen = new_changes(wpwatch, seen)
    assert kinds(rows) == [("posts", posts[7], "edited")]
    assert rows[0]["fields"] == ["terms:categories"]

    # Round 4: quiet. Nothing new, and few requests for the whole site.
    wpwatch.run("crawl", site.url)
    rows, seen = new_changes(wpwatch, seen)
    assert rows == []
    quiet = last_round(wpwatch)
    assert quiet["outcome"] == "ok"
    assert quiet["requests"] <= 12, quiet

    # The evidence: every version keeps the raw bytes' hash; an edited post has two.
    history = wpwatch.json("history", site.url, "posts", str(posts[0]), "--json")
    assert [c["kind"] for c in history["changes"]] == ["edited"]
    assert len(history["versions"]) == 2
    assert all(len(v["sha256"]) == 64 for v in history["versions"])


@pytest.fixture
def plain_http_site(tmp_path: Any) -> Iterator[str]:
    """A real web server that is not WordPress: static files on loopback."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<html><body>Just a page.</body></html>")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_unreachable_and_not_wordpress_sites_fail_alone(
    wp_stack: WordPressStack, wpwatch: WPWatch, plain_http_site: str
) -> None:
    site = wp_stack.site(wp_stack.port(2))
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    not_wp = plain_http_site
    proc = wpwatch.run("crawl", site.url, dead, not_wp, check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("wpwatch: ")]
    assert len(errors) == 2, proc.stderr
    assert any(dead in e and "connection refused" in e for e in errors)
    assert any(not_wp in e and "not a WordPress site" in e for e in errors)
    # one-off crawls that never reached a WordPress are not listed forever...
    statuses = {s["url"]: s["last_round"]["outcome"] for s in wpwatch.json("status", "--json")}
    assert statuses == {site.url: "ok"}
    # ...but asking for them by URL still tells what happened
    for url in (dead, not_wp):
        (row,) = wpwatch.json("status", url, "--json")
        assert row["last_round"]["outcome"] == "failed", row
