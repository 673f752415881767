"""Pure REST helpers: discovery, URL building, verdicts on gone posts, dates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.exceptions import BadURL
from core.values import normalize_site_url
from crawler import wpapi


def test_link_header_names_the_api_root() -> None:
    values = ['<http://127.0.0.1:8089/wp-json/>; rel="https://api.w.org/"']
    assert wpapi.api_root_from_link_header(values, "http://127.0.0.1:8089/") == (
        "http://127.0.0.1:8089/wp-json/"
    )


def test_link_header_with_several_links_and_commas_in_urls() -> None:
    values = [
        '<https://x.org/en/?p=1,2>; rel="shortlink", '
        '<https://x.org/en/index.php?rest_route=/>; rel="https://api.w.org/"'
    ]
    assert wpapi.api_root_from_link_header(values, "https://x.org/en/") == (
        "https://x.org/en/index.php?rest_route=/"
    )


def test_no_api_link() -> None:
    assert (
        wpapi.api_root_from_link_header(['<https://x.org/>; rel="shortlink"'], "https://x.org/")
        is None
    )


def test_html_link_tag() -> None:
    html = '<head><link rel="https://api.w.org/" href="https://x.org/en/wp-json/" /></head>'
    assert wpapi.api_root_from_html(html, "https://x.org/en/") == "https://x.org/en/wp-json/"
    html2 = "<link href='/?rest_route=/&amp;x=1' rel='https://api.w.org/'>"
    assert wpapi.api_root_from_html(html2, "https://x.org/") == "https://x.org/?rest_route=/&x=1"


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        (
            "http://h/wp-json/",
            "http://h/wp-json/wp/v2/posts?_fields=id,modified_gmt&include=1,2&after=2026-01-01T00%3A00%3A00Z",
        ),
        (
            "http://h/sub/?rest_route=/",
            "http://h/sub/?rest_route=/wp/v2/posts&_fields=id,modified_gmt&include=1,2&after=2026-01-01T00%3A00%3A00Z",
        ),
        (
            "http://h/index.php?rest_route=/",
            "http://h/index.php?rest_route=/wp/v2/posts&_fields=id,modified_gmt&include=1,2&after=2026-01-01T00%3A00%3A00Z",
        ),
    ],
)
def test_route_url_for_pretty_and_plain_permalinks(root: str, expected: str) -> None:
    params = {"_fields": "id,modified_gmt", "include": [1, 2], "after": "2026-01-01T00:00:00Z",
              "skip": None}
    assert wpapi.route_url(root, "wp/v2/posts", params) == expected


def test_plus_offset_is_encoded() -> None:
    # A literal '+' would turn into a space and give 400 Invalid date (docs/wordpress-rest.md §6).
    url = wpapi.route_url(
        "http://h/wp-json/", "wp/v2/posts", {"after": "2026-01-01T08:00:00+08:00"}
    )
    assert "%2B08%3A00" in url


def test_watchable_types_skip_internal_ones() -> None:
    doc = {
        "post": {"rest_base": "posts", "rest_namespace": "wp/v2"},
        "page": {"rest_base": "pages", "rest_namespace": "wp/v2"},
        "attachment": {"rest_base": "media", "rest_namespace": "wp/v2"},
        "nav_menu_item": {"rest_base": "menu-items"},
        "wp_block": {"rest_base": "blocks"},
        "book": {"rest_base": "books", "rest_namespace": "wp/v2"},
    }
    assert [t.rest_base for t in wpapi.watchable_types(doc)] == ["posts", "pages", "books"]


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (
            404,
            b'{"code":"rest_post_invalid_id","message":"Invalid post ID.","data":{"status":404}}',
            "deleted",
        ),
        (401, b'{"code":"rest_forbidden","message":"Sorry","data":{"status":401}}', "unpublished"),
        (403, b'{"code":"rest_forbidden","data":{"status":403}}', "unpublished"),
        (200, b'{"id":5,"status":"publish"}', "present"),
        (404, b"<html>Not found</html>", None),
        (404, b'{"code":"rest_no_route"}', None),
        (403, b"<html>Just a moment...</html>", None),
        (401, b'{"code":"rest_cannot_access"}', None),
        (500, b'{"code":"internal_server_error"}', None),
        (503, b"", None),
        (200, b"<html>cached page</html>", None),
    ],
)
def test_gone_verdicts_only_from_wordpress_own_codes(
    status: int, body: bytes, verdict: str | None
) -> None:
    assert wpapi.classify_gone(status, body) == verdict


def test_query_date_steps_back_and_says_utc() -> None:
    assert wpapi.query_date("2026-11-27T19:50:35", timedelta(seconds=5)) == "2026-11-27T19:50:30Z"
    assert wpapi.query_date(None, timedelta(seconds=5)) is None


def test_bom_is_tolerated() -> None:
    assert wpapi.parse_json(b'\xef\xbb\xbf[{"id":1}]') == [{"id": 1}]
    with pytest.raises(wpapi.WPApiError):
        wpapi.parse_json(b"<html>")


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("https://Example.ORG/en/", "https://example.org/en"),
        ("https://example.org/en", "https://example.org/en"),
        ("  http://127.0.0.1:8089 ", "http://127.0.0.1:8089"),
        ("https://example.org/en/#top", "https://example.org/en"),
        ("http://example.org/?rest_route=/", "http://example.org"),
    ],
)
def test_site_url_normalization(raw: str, norm: str) -> None:
    assert normalize_site_url(raw) == norm


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("ftp://x.org", "only http:// and https://"),
        ("127.0.0.1:8080/en", "add http:// or https://"),
        ("example.org", "add http:// or https://"),
        ("https://not a url", "contains a space"),
        ("https://x.org:99999", "port"),
        ("https://x.org/?p=12", "without a query string"),
        ("https://", "no host"),
    ],
)
def test_bad_site_url_says_why_in_one_line(raw: str, says: str) -> None:
    with pytest.raises(BadURL, match=re.escape(says)) as err:
        normalize_site_url(raw)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf[{"id":1}]',
        b"<br />\n<b>Notice</b>:  Undefined index: foo in "
        b'/var/www/wp-content/plugins/x.php on line 3<br />\n[{"id":1}]',
        b'Deprecated: Function create_function() is deprecated in /x.php on line 9\n[{"id":1}]',
        b'[{"id":1}]\n<!-- Performance optimized by W3 Total Cache -->\n'
        b"<!-- Served from: x @ 2026 -->",
    ],
    ids=["bom", "php-notice", "php-deprecated", "cache-comment"],
)
def test_json_broken_the_usual_ways_is_repaired(body: bytes) -> None:
    assert wpapi.parse_json(body) == [{"id": 1}]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>", "HTML page"),
        (b'[{"id":1},{"id":', "truncated"),
        (b'[{"id":1}] trailing garbage', "unexpected content"),
        (b"\xff\xfe[]garbage", "not UTF-8"),
    ],
)
def test_json_that_cannot_be_trusted_is_rejected(body: bytes, why: str) -> None:
    with pytest.raises(wpapi.WPApiError, match=why):
        wpapi.parse_json(body)
