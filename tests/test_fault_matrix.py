"""The fault matrix: hostile and broken sites, one fault per test.

Every test runs the real `wpwatch crawl` on two sites in one round: a healthy
one and one behind the fault-injection server (tests/faultserver.py). Each
asserts that

* the process does not crash (no traceback; exit 0, or 1 for a failed site);
* no change is invented: what the faulty round records is a subset of what
  really happened, and never a deletion or unpublication that did not happen;
* the site's status names the fault in plain words;
* the healthy site's round completes in the same run and finds its new post;
* the next healthy round recovers: every real change exactly once, and the
  archive passes `wpwatch verify` and the consistency check.

Retry delays, the Retry-After cap, the download timeout and the size cap are
made small through WPWATCH_SETTINGS, so the matrix stays fast.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from archive import Archive
from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.test_daemon import assert_consistent
from wpwatch.demo.server import DemoSite

FAST = {
    "WPWATCH_RETRY_TIMES": "2",
    "WPWATCH_RETRY_BASE_DELAY": "0.05",
    "WPWATCH_RETRY_AFTER_CAP": "0.5",
    "DOWNLOAD_TIMEOUT": "3",  # generous: a loaded CI machine must not time out healthy sites
    "DOWNLOAD_MAXSIZE": "1000000",
    "AUTOTHROTTLE_ENABLED": "False",
}
API = re.compile(r"/wp-json|rest_route=")  # every REST request, whichever root
LISTING = re.compile(r"wp/v2/posts(?:\?|&|$)")  # post listings, not single posts


@pytest.fixture(autouse=True)
def fast_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPWATCH_SETTINGS", " ".join(f"{k}={v}" for k, v in FAST.items()))


def make_site(name: str, n: int = 4) -> DemoSite:
    site = DemoSite(name)
    for i in range(n):
        site.add(f"{name} {i}", f"<p>{name} body {i}</p>", date=f"2024-03-0{i + 1}T00:00:00Z")
    return site


@dataclass
class Pair:
    """A healthy site and a faulty one, crawled together in every round."""

    wpwatch: WPWatch
    good: DemoSite
    good_srv: FaultServer
    bad: DemoSite
    bad_srv: FaultServer
    bad_url: str = ""
    fresh: list[int] = field(default_factory=list)
    last: subprocess.CompletedProcess[str] | None = None

    def __post_init__(self) -> None:
        self.bad_url = self.bad_url or self.bad_srv.url

    def crawl(self, *, fresh: bool = True) -> subprocess.CompletedProcess[str]:
        """One round of both sites; the healthy one must finish it with its new post."""
        if fresh:
            self.fresh.append(self.good.add(f"Fresh {len(self.fresh)}", "<p>News</p>"))
        proc = self.wpwatch.run("crawl", self.good_srv.url, self.bad_url, check=False,
                                timeout=120)
        self.last = proc
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (0, 1), proc.stderr
        good = self.last_round(self.good_srv.url)
        assert good["outcome"] == "ok", good
        assert self.changes(self.good_srv.url) == [(i, "new") for i in self.fresh]
        return proc

    def changes(self, url: str) -> list[tuple[int, str]]:
        archive = Archive(str(self.wpwatch.db))
        try:
            return sorted((c["wp_id"], c["kind"]) for c in archive.changes(site=url))
        finally:
            archive.close()

    def last_round(self, url: str) -> dict[str, Any]:
        archive = Archive(str(self.wpwatch.db))
        try:
            site = archive.find_site(url)
            assert site is not None
            return archive.last_rounds()[site["id"]]
        finally:
            archive.close()

    def has_post(self, url: str, wp_id: int, type_: str = "posts") -> bool:
        archive = Archive(str(self.wpwatch.db))
        try:
            return archive.history(url, type_, wp_id) is not None
        finally:
            archive.close()

    def status(self, url: str) -> dict[str, Any]:
        """What `wpwatch status URL --json` says about the site (the user's view)."""
        (row,) = self.wpwatch.json("status", url, "--json")
        assert row["url"] == url
        return row

    def bad_round(self) -> dict[str, Any]:
        return self.status(self.bad_url)["last_round"]

    def assert_archive_sound(self) -> None:
        assert_consistent(self.wpwatch.db)
        proc = self.wpwatch.run("verify", check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def pair(wpwatch: WPWatch) -> Iterator[Pair]:
    good, bad = make_site("Healthy"), make_site("Faulty")
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        yield Pair(wpwatch, good, good_srv, bad, bad_srv)


def real_changes(site: DemoSite) -> list[tuple[int, str]]:
    """Edit one post and delete another: what a correct round must find."""
    ids = site.ids("post", "publish")
    site.edit(ids[0], title="Edited for real")
    site.delete(ids[1])
    return sorted([(ids[0], "edited"), (ids[1], "deleted")])


def run_fault(pair: Pair, apply: Callable[[Pair], Any], words: str, *,
              heal: Callable[[Pair], Any] | None = None, repaired: bool = False) -> None:
    """Baseline, the fault, then health: the matrix's one scenario."""
    pair.crawl(fresh=False)
    expected = real_changes(pair.bad)
    apply(pair)
    pair.crawl()
    found = pair.changes(pair.bad_url)
    rnd = pair.bad_round()
    if repaired:
        assert found == expected, found
        assert rnd["outcome"] == "ok", rnd
    else:
        assert set(found) <= set(expected), found  # nothing invented
        assert rnd["outcome"] in ("failed", "errors"), rnd
        assert words in (rnd["error"] or ""), rnd
    (heal or (lambda p: p.bad_srv.heal()))(pair)
    pair.crawl()
    pair.crawl()
    assert pair.changes(pair.bad_url) == expected  # recovered, each change once
    assert pair.last_round(pair.bad_url)["outcome"] == "ok"
    pair.assert_archive_sound()


# -- the network -------------------------------------------------------------------------
NETWORK: list[tuple[str, Callable[[Pair], Any], str]] = [
    ("connection-refused", lambda p: p.bad_srv.refuse(), "connection refused"),
    ("reset-mid-body", lambda p: p.bad_srv.reset(LISTING), "mid-response"),
    ("closed-without-answer", lambda p: p.bad_srv.close_without_answer(LISTING),
     "connection closed before a complete response"),
    ("garbage-bytes", lambda p: p.bad_srv.garbage(LISTING), "not an HTTP response"),
    ("read-timeout", lambda p: p.bad_srv.hold(LISTING), "timed out"),
    ("slow-drip", lambda p: p.bad_srv.drip(LISTING, chunk=8, interval=0.4), "timed out"),
]


@pytest.mark.parametrize(("apply", "words"), [n[1:] for n in NETWORK],
                         ids=[n[0] for n in NETWORK])
def test_network_faults(pair: Pair, apply: Callable[[Pair], Any], words: str) -> None:
    def heal(p: Pair) -> None:
        p.bad_srv.heal()
        p.bad_srv.listen()

    run_fault(pair, apply, words, heal=heal)


def test_dns_failure(wpwatch: WPWatch) -> None:
    good = make_site("Healthy")
    with FaultServer(good) as good_srv, FaultServer(make_site("Unused")) as unused:
        pair = Pair(wpwatch, good, good_srv, unused.site, unused,
                    bad_url="http://wpwatch-fault.invalid")
        pair.crawl(fresh=False)
        proc = pair.crawl()
        assert proc.returncode == 1
        rnd = pair.bad_round()
        assert rnd["outcome"] == "failed" and "DNS lookup failed" in rnd["error"], rnd
        assert pair.changes(pair.bad_url) == []
        assert f"wpwatch: {pair.bad_url}: cannot reach the site" in proc.stderr


# -- HTTP statuses -----------------------------------------------------------------------
def _json_error(code: str, status: int) -> bytes:
    return json.dumps({"code": code, "message": "x", "data": {"status": status}}).encode()


STATUSES: list[tuple[str, Callable[[Pair], Any], str]] = [
    ("500", lambda p: p.bad_srv.fail(LISTING, 500, _json_error("internal_server_error", 500)),
     "HTTP 500 (server error)"),
    ("502", lambda p: p.bad_srv.fail(LISTING, 502, "<html>Bad Gateway</html>"),
     "HTTP 502 (server error)"),
    ("503", lambda p: p.bad_srv.fail(LISTING, 503), "HTTP 503 (server error)"),
    ("503-retry-after", lambda p: p.bad_srv.fail(LISTING, 503, headers=[("Retry-After", "3600")]),
     "HTTP 503 (server error)"),
    ("429-retry-after", lambda p: p.bad_srv.fail(LISTING, 429, headers=[("Retry-After", "3600")]),
     "HTTP 429 (rate limited)"),
    ("truncated-json", lambda p: p.bad_srv.patch(LISTING, truncate=40),
     "truncated or malformed JSON"),
    ("html-with-200", lambda p: p.bad_srv.fail(
        LISTING, 200, "<!DOCTYPE html><html><body>Cached</body></html>",
        headers=[("Content-Type", "text/html")]), "answered an HTML page instead of JSON"),
    ("oversized", lambda p: p.bad_srv.fail(LISTING, 200, b"[" + b" " * 1_500_000 + b"]"),
     "larger than the size cap (DOWNLOAD_MAXSIZE"),
    ("gzip-bomb", lambda p: p.bad_srv.gzip_bomb(LISTING, inflated=16 * 1024 * 1024),
     "once decompressed"),
    ("redirect-loop", lambda p: p.bad_srv.redirect_loop(LISTING), "too many redirects"),
    ("redirect-to-another-host", lambda p: p.bad_srv.fail(
        LISTING, 302, headers=[("Location", "http://127.0.0.2:9/wp-json/wp/v2/posts")]),
     "redirects to another host (http://127.0.0.2:9/"),
]


@pytest.mark.parametrize(("apply", "words"), [s[1:] for s in STATUSES],
                         ids=[s[0] for s in STATUSES])
def test_http_faults(pair: Pair, apply: Callable[[Pair], Any], words: str) -> None:
    started = time.monotonic()
    run_fault(pair, apply, words)
    # Retry-After: 3600 is capped (WPWATCH_RETRY_AFTER_CAP), never slept through
    assert time.monotonic() - started < 90


@pytest.mark.parametrize("status", [429, 403])
def test_a_challenge_is_not_a_rate_limit(pair: Pair, status: int) -> None:
    def apply(p: Pair) -> None:
        p.bad_srv.fail(LISTING, status, "<!DOCTYPE html><html><title>Just a moment...</title>",
                       headers=[("cf-mitigated", "challenge"), ("Content-Type", "text/html"),
                                ("Retry-After", "3600")])

    run_fault(pair, apply, f"Cloudflare challenge (HTTP {status}")


@pytest.mark.parametrize(
    ("name", "prefix", "suffix"),
    [
        ("utf8-bom", b"\xef\xbb\xbf", b""),
        ("php-notice", b"<br />\n<b>Notice</b>:  Undefined index: x in /wp/x.php on line 3<br />\n",
         b""),
        ("cache-comment", b"", b"\n<!-- Page cached by LiteSpeed Cache on 2026-01-01 -->\n"),
    ],
    ids=["utf8-bom", "php-notice", "cache-comment"],
)
def test_json_repaired_the_ways_seen_in_the_wild(pair: Pair, name: str, prefix: bytes,
                                                 suffix: bytes) -> None:
    run_fault(pair, lambda p: p.bad_srv.wrap(API, prefix=prefix, suffix=suffix), "",
              repaired=True)


# -- the single-post check of a post that left the listing -----------------------------------
@pytest.mark.parametrize(
    ("name", "words"),
    [("5xx", "HTTP 503"), ("timeout", "timed out"), ("html", "no verdict")],
    ids=["5xx", "timeout", "html"],
)
def test_a_failing_single_post_check_is_no_verdict(pair: Pair, name: str, words: str) -> None:
    pair.crawl(fresh=False)
    victim = pair.bad.ids("post", "publish")[1]
    pair.bad.delete(victim)
    check = re.compile(rf"wp/v2/posts/{victim}\b")
    if name == "5xx":
        pair.bad_srv.fail(check, 503)
    elif name == "timeout":
        pair.bad_srv.hold(check)
    else:
        pair.bad_srv.fail(check, 200, "<!DOCTYPE html><html>Maintenance</html>",
                          headers=[("Content-Type", "text/html")])
    pair.crawl()
    assert pair.changes(pair.bad_url) == []
    rnd = pair.bad_round()
    assert rnd["outcome"] == "errors"
    assert f"posts {victim}" in rnd["error"] and words in rnd["error"], rnd
    pair.bad_srv.heal()
    pair.crawl()  # checked again: now WordPress says 404 rest_post_invalid_id
    pair.crawl()
    assert pair.changes(pair.bad_url) == [(victim, "deleted")]
    pair.assert_archive_sound()


# -- listings that move or lie ----------------------------------------------------------------
def test_listing_shifts_while_paging(wpwatch: WPWatch) -> None:
    good = make_site("Healthy")
    bad = DemoSite("Busy")
    bad.add_many(250)
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        pair = Pair(wpwatch, good, good_srv, bad, bad_srv)
        ids = sorted(bad.ids("post", "publish"))
        victim = ids[10]  # on page 1 of the baseline walk
        inserted: list[int] = []

        def shift(_target: str) -> None:  # while page 2 is asked for
            bad.delete(victim)
            inserted.extend(bad.add(f"Inserted {i}", "<p>Mid-round</p>") for i in range(3))

        bad_srv.call(re.compile(r"wp/v2/posts\?.*page=2"), shift)
        pair.crawl(fresh=False)  # the baseline, while the listing moves under it
        assert pair.last_round(bad_srv.url)["outcome"] == "ok"
        assert pair.changes(bad_srv.url) == []
        skipped = ids[100]  # moved from page 2 onto page 1 while we paged
        assert pair.has_post(bad_srv.url, skipped)
        pair.crawl()
        pair.crawl()
        assert pair.changes(bad_srv.url) == [(victim, "deleted")]
        pair.assert_archive_sound()


def test_listing_headers_that_lie(pair: Pair) -> None:
    # X-WP-Total says 999 and X-WP-TotalPages 9 on every listing: the pages past
    # the end answer 400 rest_post_invalid_page_number; nothing is invented
    def apply(p: Pair) -> None:
        p.bad_srv.patch(LISTING, headers={"X-WP-Total": "999", "X-WP-TotalPages": "9"})

    pair.crawl(fresh=False)
    expected = real_changes(pair.bad)
    apply(pair)
    pair.crawl()
    pair.crawl()
    assert pair.changes(pair.bad_url) == expected
    # the data, not the headers, ends the paging: a short page is the last one
    assert not any("page=2" in r for r in pair.bad_srv.requests)
    pair.bad_srv.heal()
    pair.crawl()
    assert pair.changes(pair.bad_url) == expected
    pair.assert_archive_sound()


def test_total_pages_that_lie_low_lose_nothing(wpwatch: WPWatch) -> None:
    good = make_site("Healthy")
    bad = DemoSite("Big")
    bad.add_many(230)
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        pair = Pair(wpwatch, good, good_srv, bad, bad_srv)
        bad_srv.patch(LISTING, headers={"X-WP-TotalPages": "1"})
        pair.crawl(fresh=False)
        highest = max(bad.ids("post", "publish"))
        assert pair.has_post(bad_srv.url, highest)
        pair.crawl()
        assert pair.changes(bad_srv.url) == []


def test_a_page_past_the_end_is_the_end(wpwatch: WPWatch) -> None:
    good = make_site("Healthy")
    bad = DemoSite("Exactly a page")
    bad.add_many(100)
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        pair = Pair(wpwatch, good, good_srv, bad, bad_srv)
        pair.crawl(fresh=False)
        # a full first page asks for page 2: WordPress answers 400 rest_post_invalid_page_number
        assert any("page=2" in r for r in bad_srv.requests)
        assert pair.last_round(bad_srv.url)["outcome"] == "ok"
        expected = real_changes(bad)
        pair.crawl()
        assert pair.changes(bad_srv.url) == expected


# -- the API root on another host -----------------------------------------------------------
def test_api_link_to_another_host_is_not_followed(pair: Pair) -> None:
    pair.bad_srv.patch(re.compile(r"^/$"), headers={
        "Link": '<http://127.0.0.2:9/wp-json/>; rel="https://api.w.org/"'})
    pair.crawl(fresh=False)
    rnd = pair.bad_round()
    assert rnd["outcome"] == "errors"
    assert "the API link points to another host (http://127.0.0.2:9/wp-json/)" in rnd["error"]
    expected = real_changes(pair.bad)
    pair.crawl()  # watched through its own /wp-json/
    assert pair.changes(pair.bad_url) == expected
    assert not any("127.0.0.2" in r for r in pair.bad_srv.requests)


def test_another_host_is_followed_when_the_site_allows_it(
    wpwatch: WPWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WPWATCH_ALLOW_OTHER_HOST (a per-site setting): an API moved to a CDN host is followed."""
    settings = {**FAST, "WPWATCH_ALLOW_OTHER_HOST": "True"}
    monkeypatch.setenv("WPWATCH_SETTINGS", " ".join(f"{k}={v}" for k, v in settings.items()))
    site = make_site("Moved")
    try:
        cdn = FaultServer(site, host="127.0.0.2")
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address here")
    with cdn, FaultServer(site) as srv:  # the second one sets the site's home
        wpwatch.run("crawl", srv.url)
        expected = real_changes(site)
        srv.fail(LISTING, 302, headers=[("Location", f"{cdn.url}/wp-json/wp/v2/posts")])
        wpwatch.run("crawl", srv.url)
        assert any("wp/v2/posts" in r for r in cdn.requests)
        archive = Archive(str(wpwatch.db))
        try:
            assert sorted((c["wp_id"], c["kind"]) for c in archive.changes()) == expected
        finally:
            archive.close()
