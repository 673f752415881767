"""Politeness and no-false-verdict rules, on the WordPress-compatible demo server.

These faults (429 with Retry-After, a 503 on one post, robots.txt closing the
site) cannot be produced on demand by a real WordPress; everything else about
the round is covered against the real one in test_scenarios_wordpress.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from wpwatch.demo.server import DemoServer, DemoSite


@pytest.fixture
def site() -> DemoSite:
    s = DemoSite("Faults")
    for i in range(5):
        s.add(f"Post {i}", f"<p>Body {i}</p>", date=f"2024-01-0{i + 1}T00:00:00Z")
    return s


@pytest.fixture
def server(site: DemoSite) -> Iterator[DemoServer]:
    with DemoServer(site) as srv:
        yield srv


def kinds(wpwatch: WPWatch) -> list[tuple[int, str]]:
    return [(c["wp_id"], c["kind"]) for c in wpwatch.json("changes", "--json")]


def test_429_retry_after_is_honoured(site: DemoSite, server: DemoServer, wpwatch: WPWatch) -> None:
    url = server.url_for(site)
    site.fail_next(429, retry_after=1, path_contains="wp/v2/posts")
    started = time.monotonic()
    wpwatch.run("crawl", url)
    assert time.monotonic() - started >= 1.0
    statuses = [r for r in site.request_log if "wp/v2/posts" in str(r)]
    assert len(statuses) >= 2  # the refused request, then its retry
    (status,) = wpwatch.json("status", "--json")
    assert status["last_round"]["outcome"] == "ok"


def test_a_failing_check_is_no_verdict(
    site: DemoSite, server: DemoServer, wpwatch: WPWatch
) -> None:
    url = server.url_for(site)
    wpwatch.run("crawl", url)
    victim = site.ids("post", "publish")[0]
    site.delete(victim)
    # the direct GET that would prove the deletion fails, every retry
    site.fail_next(503, count=10, path_contains=f"wp/v2/posts/{victim}")
    wpwatch.run("crawl", url)
    assert kinds(wpwatch) == []
    (status,) = wpwatch.json("status", "--json")
    assert status["last_round"]["outcome"] == "errors"
    assert f"posts {victim} left the listing" in status["last_round"]["error"]
    assert "HTTP 503" in status["last_round"]["error"]
    # healthy again: the deletion is found, once
    site.clear_failures()
    wpwatch.run("crawl", url)
    wpwatch.run("crawl", url)
    assert kinds(wpwatch) == [(victim, "deleted")]


def test_robots_txt_is_obeyed(wpwatch: WPWatch) -> None:
    site = DemoSite("Closed", robots_txt="User-agent: *\nDisallow: /\n")
    site.add("Post", "<p>Body</p>")
    with DemoServer(site) as srv:
        proc = wpwatch.run("crawl", srv.url_for(site), check=False)
    assert proc.returncode == 1
    assert "forbidden by robots.txt" in proc.stderr
    assert proc.stderr.count("\n") == 1


# -- through the fault-injection server --------------------------------------------------
def _site_with_posts(n: int = 4) -> DemoSite:
    s = DemoSite("Faulty")
    for i in range(n):
        s.add(f"Post {i}", f"<p>Body {i}</p>", date=f"2024-02-0{i + 1}T00:00:00Z")
    return s


def _last(wpwatch: WPWatch) -> dict[str, Any]:
    (status,) = wpwatch.json("status", "--json")
    return status["last_round"]


def test_html_with_status_200_changes_nothing(wpwatch: WPWatch) -> None:
    site = _site_with_posts()
    with FaultServer(site) as srv:
        wpwatch.run("crawl", srv.url)
        victim = site.ids("post", "publish")[0]
        site.delete(victim)
        srv.fail("wp/v2/posts", 200, b"<!DOCTYPE html><html><body>Cached page</body></html>",
                 headers=[("Content-Type", "text/html")])
        proc = wpwatch.run("crawl", srv.url, check=False)
        assert proc.returncode == 1
        assert "answered an HTML page instead of JSON" in proc.stderr
        assert kinds(wpwatch) == []
        srv.heal()
        wpwatch.run("crawl", srv.url)
        assert kinds(wpwatch) == [(victim, "deleted")]


def test_json_wrapped_by_plugins_is_accepted(wpwatch: WPWatch) -> None:
    site = _site_with_posts()
    with FaultServer(site) as srv:
        srv.wrap(
            "wp-json",
            prefix=b"\xef\xbb\xbf<br />\n<b>Notice</b>: Undefined index in x.php<br />\n",
            suffix=b"\n<!-- Cached by WP Super Cache -->\n",
        )
        wpwatch.run("crawl", srv.url)
        edited = site.ids("post", "publish")[1]
        site.edit(edited, title="Retitled")
        wpwatch.run("crawl", srv.url)
        assert kinds(wpwatch) == [(edited, "edited")]
        assert _last(wpwatch)["outcome"] == "ok"


def test_a_challenge_is_never_a_verdict(wpwatch: WPWatch) -> None:
    site = _site_with_posts()
    with FaultServer(site) as srv:
        wpwatch.run("crawl", srv.url)
        victim = site.ids("post", "publish")[2]
        site.delete(victim)
        srv.fail(f"wp/v2/posts/{victim}", 403, "<html>Just a moment...</html>",
                 headers=[("cf-mitigated", "challenge"), ("Content-Type", "text/html")])
        wpwatch.run("crawl", srv.url)
        assert kinds(wpwatch) == []
        last = _last(wpwatch)
        assert last["outcome"] == "errors" and "Cloudflare challenge" in last["error"]


def test_api_redirected_to_another_host_is_not_followed(wpwatch: WPWatch) -> None:
    site = _site_with_posts()
    with FaultServer(site) as srv:
        wpwatch.run("crawl", srv.url)
        srv.fail("wp/v2/posts", 302, headers=[("Location", "http://127.0.0.2:9/wp-json/wp/v2/posts")])
        proc = wpwatch.run("crawl", srv.url, check=False)
        assert proc.returncode == 1
        assert "redirects to another host (http://127.0.0.2:9/" in proc.stderr
        assert kinds(wpwatch) == []


# -- a post the archive refuses to store -------------------------------------------------
def _posts_state(db: Any) -> tuple[Any, ...]:
    from sqlalchemy import select

    from archive import Archive
    from archive import schema as s

    archive = Archive(str(db))
    try:
        with archive.engine.connect() as conn:
            t = s.site_types.c
            return tuple(conn.execute(
                select(t.modified_watermark, t.date_watermark, t.max_id, t.last_total)
                .where(t.type == "posts")).one())
    finally:
        archive.close()


def _sqlite(db: Any, statement: str) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute(statement)


def test_watermarks_stay_when_a_post_is_not_stored(wpwatch: WPWatch) -> None:
    """A type's watermarks move only with its last item, never past a failed one.

    150 new (back-dated) posts come in two `include=` fetches of 100 and 50. The
    archive refuses the first (an SQLite trigger plays a full disk on one of its
    posts); the second is stored, but the watermarks it carries are not: the
    next round fetches the refused posts again, and each is new exactly once.
    """
    site = _site_with_posts()
    with FaultServer(site) as srv:
        wpwatch.run("crawl", srv.url)
        before = _posts_state(wpwatch.db)
        fresh = site.add_many(150)
        refused = min(fresh)
        _sqlite(wpwatch.db, f"CREATE TRIGGER refuse_post BEFORE INSERT ON posts "
                            f"WHEN NEW.wp_id = {refused} BEGIN "
                            f"SELECT RAISE(ABORT, 'refused by the test'); END")
        wpwatch.run("crawl", srv.url)
        last = _last(wpwatch)
        assert last["outcome"] == "errors", last
        assert "could not store posts from" in last["error"]
        assert "fetched again next round" in last["error"]
        assert len(kinds(wpwatch)) == 50  # the second fetch was stored ...
        assert _posts_state(wpwatch.db) == before  # ... but the watermarks did not move
        _sqlite(wpwatch.db, "DROP TRIGGER refuse_post")
        wpwatch.run("crawl", srv.url)
        assert _last(wpwatch)["outcome"] == "ok"
        assert sorted(kinds(wpwatch)) == sorted((i, "new") for i in fresh)
        assert _posts_state(wpwatch.db)[2] == max(fresh)  # now they moved
