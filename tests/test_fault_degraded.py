"""Degraded mode: a closed REST API does not stop the watch.

When a security plugin, a "Disable REST API" plugin, a removed route or a web
server rule closes the REST API, the RSS feed and the core sitemaps still
reveal new posts. These tests close the API of a site behind the
fault-injection server in each of the four ways seen in the wild and check
that: new posts are still found (the feed; a page only in the sitemap),
nothing is ever judged gone from a feed or sitemap, status says the site is
degraded and why, the other site's round completes, and when the API opens
again the first REST version of a post found in the feed is no `edited`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.test_fault_matrix import Pair, fast_settings, make_site  # noqa: F401 (fixture)

NO_ROUTE = (b'{"code":"rest_no_route","message":"No route was found matching the URL and '
            b'request method.","data":{"status":404}}')


def _mode(mode: str) -> Callable[[Pair], Any]:
    def close(p: Pair) -> None:
        p.bad.rest_mode = mode
    return close


CLOSINGS: dict[str, tuple[Callable[[Pair], Any], str]] = {
    "disable-rest-api": (_mode("disabled"), "401 rest_cannot_access"),
    "solid-security": (_mode("restricted"), "401 itsec_rest_api_access_restricted"),
    "route-removed": (lambda p: p.bad_srv.fail(re.compile(r"wp/v2/(?:posts|pages|types)"), 404,
                                               NO_ROUTE, headers=[("Content-Type",
                                                                   "application/json")]),
                      "404 rest_no_route"),
    "web-server-403": (_mode("blocked"), "403 HTML page"),
}


@pytest.fixture
def pair(wpwatch: WPWatch) -> Iterator[Pair]:
    good, bad = make_site("Healthy"), make_site("Closed")
    bad.add("About us", "<p>Who we are</p>", type="page")
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        yield Pair(wpwatch, good, good_srv, bad, bad_srv)


def reopen(p: Pair) -> None:
    p.bad.rest_mode = "open"
    p.bad_srv.heal()


@pytest.mark.parametrize("closing", list(CLOSINGS), ids=list(CLOSINGS))
def test_rest_closed_degrades_to_feed_and_sitemap(pair: Pair, closing: str) -> None:
    close, reason = CLOSINGS[closing]
    pair.crawl(fresh=False)  # a REST baseline
    close(pair)
    bad = pair.bad
    posts = bad.ids("post", "publish")
    fresh = bad.add("Statement on the verdict", "<p>We welcome the verdict.</p>")
    page = bad.add("Press contacts", "<p>Call us</p>", type="page")  # only in the sitemap
    bad.edit(posts[0], title="Quietly edited while closed")
    bad.delete(posts[1])

    proc = pair.crawl()
    status = pair.status(pair.bad_url)
    rnd = status["last_round"]
    assert status["degraded"] is True
    assert rnd["outcome"] == "degraded"
    assert rnd["error"].startswith(
        f"REST API is closed ({reason}): watching the RSS feed and sitemap"), rnd
    assert "REST API is closed" in proc.stdout
    # new posts still found; the missing post is no deletion, the edit waits for REST
    assert pair.changes(pair.bad_url) == sorted([(fresh, "new"), (page, "new")])

    pair.crawl()  # still closed: nothing doubled
    assert pair.changes(pair.bad_url) == sorted([(fresh, "new"), (page, "new")])

    reopen(pair)
    pair.crawl()
    pair.crawl()
    assert pair.changes(pair.bad_url) == sorted([
        (fresh, "new"), (page, "new"), (posts[0], "edited"), (posts[1], "deleted")])
    assert pair.status(pair.bad_url)["degraded"] is False
    pair.assert_archive_sound()
    # the feed's raw bytes are the evidence of the post found while closed
    history = pair.wpwatch.json("history", pair.bad_url, "posts", str(fresh), "--json")
    assert history["versions"][0]["url"].endswith("/feed/")
    assert [c["kind"] for c in history["changes"]] == ["new"]


def test_closed_from_the_first_round(wpwatch: WPWatch) -> None:
    good, bad = make_site("Healthy"), make_site("Closed", n=6)
    bad.rest_mode = "disabled"
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        pair = Pair(wpwatch, good, good_srv, bad, bad_srv)
        proc = pair.crawl(fresh=False)  # degraded baseline: no changes
        assert pair.last_round(bad_srv.url)["outcome"] == "degraded"
        # a closed REST API is an error the user can act on: exit 1, one line naming it
        assert proc.returncode == 1
        (line,) = [x for x in proc.stderr.splitlines() if x.startswith("wpwatch: ")]
        assert bad_srv.url in line and "REST API is closed" in line
        assert pair.changes(bad_srv.url) == []
        victim = bad.ids("post", "publish")[0]
        bad.delete(victim)
        fresh = bad.add("First news", "<p>News</p>")
        pair.crawl()
        assert pair.changes(bad_srv.url) == [(fresh, "new")]
        bad.rest_mode = "open"
        pair.crawl()  # the REST baseline over feed-made versions: nothing reported ...
        assert pair.changes(bad_srv.url) == [(fresh, "new")]
        pair.crawl()  # ... then WordPress itself says the post gone while closed is deleted
        assert pair.changes(bad_srv.url) == sorted([(fresh, "new"), (victim, "deleted")])
        pair.assert_archive_sound()


def test_closed_and_feed_gone_fails_in_plain_words(wpwatch: WPWatch) -> None:
    good, bad = make_site("Healthy"), make_site("Shut")
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        pair = Pair(wpwatch, good, good_srv, bad, bad_srv)
        pair.crawl(fresh=False)
        bad.rest_mode = "disabled"
        bad_srv.fail(re.compile(r"feed|sitemap"), 403, "<html><body>Forbidden</body></html>")
        proc = pair.crawl()
        assert proc.returncode == 1
        rnd = pair.bad_round()
        assert rnd["outcome"] == "failed"
        assert rnd["error"].startswith("the REST API is closed (401 rest_cannot_access), and the "
                                       "RSS feed and sitemap could not be read either")
        # One failed round is a failing site, not a degraded one (nothing of it is watched):
        # status reads the round's stored outcome, and says degraded after three in a row.
        status = pair.status(bad_srv.url)
        assert status["degraded"] is False and status["last_round"]["outcome"] == "failed"
        assert pair.changes(bad_srv.url) == []
