"""The demo WordPress server answers like the measured WordPress 6.1.

The same requests against the real WordPress are in tests/test_demo_vs_wordpress.py.

Every test talks HTTP with ``requests`` to a real ``DemoServer`` on 127.0.0.1;
time moves only through a ``ManualClock``, so nothing sleeps.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from wpwatch.demo import DemoServer, DemoSite, ManualClock, apply_demo_changes, load_demo_site

FIXTURE = Path(__file__).parent.parent / "wpwatch" / "demo" / "data" / "posts.json"
# the REST record of post 4546 as iuhrdf.org/en served it; the bundled demo data starts from it
CAPTURED_4546 = Path(__file__).parent / "fixtures" / "posts" / "iuhrdf-post-4546.json"
START = "2026-11-27T19:50:00Z"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def site(clock: ManualClock) -> DemoSite:
    return DemoSite("WP Test Site", clock=clock)


@pytest.fixture
def server(site: DemoSite):
    with DemoServer(site) as srv:
        yield srv


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def api(
    http: requests.Session, site: DemoSite, route: str, method: str = "GET", **params: object
) -> requests.Response:
    return http.request(method, site.rest_url(route), params=params or None)


def ids(resp: requests.Response) -> list[int]:
    assert resp.status_code == 200, resp.text
    return [item["id"] for item in resp.json()]


def add_posts(site: DemoSite, clock: ManualClock, count: int) -> list[int]:
    out = []
    for i in range(count):
        out.append(site.add(f"Post {i}", f"<p>Body {i}</p>\n"))
        clock.advance(60)
    return out


# --- discovery -----------------------------------------------------------------


def test_home_page_advertises_the_api_by_header_and_link_tag(server, site, http):
    resp = http.get(site.url)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert resp.headers["Link"] == f'<{site.url}wp-json/>; rel="https://api.w.org/"'
    assert f'<link rel="https://api.w.org/" href="{site.url}wp-json/" />' in resp.text


def test_index_with_and_without_trailing_slash_and_through_rest_route(server, site, http):
    for url in (
        site.url + "wp-json/",
        site.url + "wp-json",
        site.url + "?rest_route=/",
        site.url + "index.php?rest_route=/",
    ):
        resp = http.get(url)
        assert resp.status_code == 200, url
        data = resp.json()
        assert data["name"] == "WP Test Site"
        assert data["url"] == data["home"] == site.url.rstrip("/")
        assert data["gmt_offset"] == 0 and data["timezone_string"] == "UTC"
        assert "wp/v2" in data["namespaces"]
        assert "/wp/v2/posts" in data["routes"]
        assert "modified_after" in data["routes"]["/wp/v2/posts"]["endpoints"][0]["args"]
        assert resp.headers["Link"] == f'<{site.url}wp-json/>; rel="https://api.w.org/"'
        assert resp.headers["X-Robots-Tag"] == "noindex"
        assert resp.headers["Allow"] == "GET"


def test_rest_responses_carry_no_validators_or_cache_headers(server, site, clock, http):
    add_posts(site, clock, 1)
    resp = api(http, site, "wp/v2/posts")
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert resp.headers["Access-Control-Expose-Headers"] == "X-WP-Total, X-WP-TotalPages, Link"
    for name in ("ETag", "Last-Modified", "Cache-Control"):
        assert name not in resp.headers


def test_json_is_encoded_like_php(server, site, http):
    site.add("Caf\u00e9 \u2019quotes\u2019", "<p>a/b</p>")
    body = api(http, site, "wp/v2/posts", _fields="title,link").content
    assert b"Caf\\u00e9 \\u2019quotes\\u2019" in body
    assert b"http:\\/\\/127.0.0.1" in body


def test_types_are_keyed_by_slug_and_internal_types_refuse_anonymous(server, site, http):
    types = api(http, site, "wp/v2/types").json()
    assert list(types)[:5] == ["post", "page", "attachment", "nav_menu_item", "wp_block"]
    assert {k: v["rest_base"] for k, v in types.items()}["nav_menu_item"] == "menu-items"
    assert set(types["post"]) == {
        "_links",
        "description",
        "has_archive",
        "hierarchical",
        "icon",
        "name",
        "rest_base",
        "rest_namespace",
        "slug",
        "taxonomies",
    }
    assert types["page"]["hierarchical"] is True
    assert types["post"]["taxonomies"] == ["category", "post_tag"]
    menu = api(http, site, "wp/v2/menu-items", per_page=1)
    assert menu.status_code == 401 and menu.json()["code"] == "rest_cannot_view"
    templates = api(http, site, "wp/v2/templates", per_page=1)
    assert templates.status_code == 401
    assert templates.json()["code"] == "rest_cannot_manage_templates"
    for base in ("media", "blocks", "navigation"):
        resp = api(http, site, f"wp/v2/{base}", per_page=1)
        assert resp.status_code == 200 and resp.json() == []
        assert resp.headers["X-WP-Total"] == "0"
    assert api(http, site, "wp/v2/types/page").json()["rest_base"] == "pages"
    assert api(http, site, "wp/v2/types/nope").json()["code"] == "rest_type_invalid"


def test_custom_type_is_listed_at_its_rest_base(server, site, http):
    site.register_type("book", rest_base="books")
    book = site.add("A Book", type="book")
    assert api(http, site, "wp/v2/types").json()["book"]["rest_base"] == "books"
    assert ids(api(http, site, "wp/v2/books")) == [book]
    assert api(http, site, "wp/v2/book").json()["code"] == "rest_no_route"


def test_unknown_route_and_wrong_method(server, site, http):
    resp = api(http, site, "wp/v2/nothing")
    assert resp.status_code == 404
    assert resp.json() == {
        "code": "rest_no_route",
        "message": "No route was found matching the URL and request method.",
        "data": {"status": 404},
    }
    assert api(http, site, "wp/v2/posts/abc").status_code == 404
    assert api(http, site, "wp/v2/posts", method="POST").json()["code"] == "rest_cannot_create"


# --- pagination --------------------------------------------------------------------


def test_pagination_headers_links_and_400_past_the_end(server, site, clock, http):
    add_posts(site, clock, 25)
    first = api(http, site, "wp/v2/posts")
    assert first.headers["X-WP-Total"] == "25" and first.headers["X-WP-TotalPages"] == "3"
    assert len(first.json()) == 10
    base = site.url + "wp-json/wp/v2/posts"
    assert first.headers["Link"] == f'<{base}?page=2>; rel="next"'

    resp = http.get(base + "?per_page=10&page=2&_fields=id")
    assert resp.headers["Link"] == (
        f'<{base}?per_page=10&page=1&_fields=id>; rel="prev", '
        f'<{base}?per_page=10&page=3&_fields=id>; rel="next"'
    )
    last = http.get(base + "?per_page=10&page=3&_fields=id")
    assert last.links == {"prev": {"url": f"{base}?per_page=10&page=2&_fields=id", "rel": "prev"}}
    assert len(last.json()) == 5

    past = api(http, site, "wp/v2/posts", per_page=10, page=4)
    assert past.status_code == 400
    assert past.json() == {
        "code": "rest_post_invalid_page_number",
        "message": "The page number requested is larger than the number of pages available.",
        "data": {"status": 400},
    }


def test_pages_concatenate_to_the_whole_listing(server, site, clock, http):
    created = add_posts(site, clock, 23)
    seen = []
    for page in range(1, 4):
        seen += ids(
            api(
                http,
                site,
                "wp/v2/posts",
                per_page=10,
                page=page,
                orderby="id",
                order="asc",
                _fields="id",
            )
        )
    assert seen == created


def test_per_page_and_page_bounds(server, site, clock, http):
    add_posts(site, clock, 1)
    for value in (0, 101):
        resp = api(http, site, "wp/v2/posts", per_page=value)
        assert resp.status_code == 400
        body = resp.json()
        assert body["code"] == "rest_invalid_param"
        assert body["message"] == "Invalid parameter(s): per_page"
        assert body["data"]["params"] == {
            "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"
        }
        assert body["data"]["details"]["per_page"]["code"] == "rest_out_of_bounds"
    zero = api(http, site, "wp/v2/posts", page=0).json()
    assert zero["data"]["params"] == {"page": "page must be greater than or equal to 1"}
    text = api(http, site, "wp/v2/posts", per_page="abc").json()
    assert text["data"]["params"] == {"per_page": "per_page is not of type integer."}
    both = api(http, site, "wp/v2/posts", page=0, per_page=500).json()
    assert both["message"] == "Invalid parameter(s): page, per_page"
    assert ids(api(http, site, "wp/v2/posts", per_page=100)) != []


def test_empty_collection_is_200_even_past_page_one(server, site, http):
    resp = api(http, site, "wp/v2/posts", page=3)
    assert resp.status_code == 200 and resp.json() == []
    assert resp.headers["X-WP-Total"] == "0" and resp.headers["X-WP-TotalPages"] == "0"


def test_head_on_a_collection_gives_the_totals_without_a_body(server, site, clock, http):
    add_posts(site, clock, 12)
    resp = http.head(site.rest_url("wp/v2/posts"))
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["X-WP-Total"] == "12" and resp.headers["X-WP-TotalPages"] == "2"


# --- dates and modified_after -----------------------------------------------------------


def test_dates_have_no_z_and_gmt_columns_are_utc(server, site, clock, http):
    site.gmt_offset = 2
    post = site.add("Dated")
    data = api(http, site, f"wp/v2/posts/{post}").json()
    assert data["date_gmt"] == data["modified_gmt"] == "2026-11-27T19:50:00"
    assert data["date"] == data["modified"] == "2026-11-27T21:50:00"


def test_modified_after_is_strict(server, site, clock, http):
    site.add("a")  # 19:50:00
    clock.advance(35)
    exact = site.add("b")  # 19:50:35
    clock.advance(60)
    later = site.add("c")  # 19:51:35

    def after(value: str) -> list[int]:
        return ids(
            http.get(
                site.rest_url("wp/v2/posts") + "?_fields=id&orderby=modified"
                f"&modified_after={value}"
            )
        )

    assert after("2026-11-27T19:50:35Z") == [later]
    assert after("2026-11-27T19:50:34Z") == [later, exact]
    assert after("2026-11-27T19:50:35%2B00:00") == [later]
    assert after("2026-11-27T19:50:35.999Z") == [later]
    before = ids(
        http.get(
            site.rest_url("wp/v2/posts")
            + "?_fields=id&order=asc&modified_before=2026-11-27T19:50:35Z"
        )
    )
    assert len(before) == 1 and exact not in before


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-27",
        "yesterday",
        "2026-11-27T19:50:35+00:00",
        "2026-13-40T00:00:00Z",
        "2026-11-27T19:50:35%2B0000",
    ],
)
def test_bad_dates_are_400_invalid_date(server, site, http, value):
    # a literal "+" is a space once decoded, which makes the date invalid
    resp = http.get(site.rest_url("wp/v2/posts") + "?modified_after=" + value)
    assert resp.status_code == 400
    body = resp.json()
    assert body["data"]["params"] == {"modified_after": "Invalid date."}
    assert body["data"]["details"]["modified_after"]["code"] == "rest_invalid_date"


def test_offset_free_dates_are_site_local_and_z_is_converted(clock, http):
    clock.set("2026-11-27T19:53:42Z")
    site = DemoSite(gmt_offset=8, timezone_string="Asia/Shanghai", clock=clock)
    post = site.add("Shanghai")
    with DemoServer(site):
        rec = api(http, site, f"wp/v2/posts/{post}", _fields="modified,modified_gmt").json()
        assert rec == {"modified": "2026-11-28T03:53:42", "modified_gmt": "2026-11-27T19:53:42"}
        index = http.get(site.url + "wp-json/?_fields=timezone_string,gmt_offset").json()
        assert index == {"gmt_offset": 8, "timezone_string": "Asia/Shanghai"}

        def total(value: str) -> str:
            resp = http.get(site.rest_url("wp/v2/posts") + "?_fields=id&modified_after=" + value)
            return resp.headers["X-WP-Total"]

        assert total("2026-11-27T19:53:37Z") == "1"
        assert total("2026-11-27T19:53:42Z") == "0"
        assert total("2026-11-28T03:53:37%2B08:00") == "1"
        assert total("2026-11-27T23:53:42") == "1"  # local time, 8 hours too wide
        assert total("2026-11-27T23:53:42Z") == "0"


def test_changing_the_timezone_does_not_rewrite_old_rows(clock, http):
    clock.set("2026-11-27T19:51:35Z")
    site = DemoSite(clock=clock)
    old = site.add("written while on UTC")
    site.gmt_offset = 8
    clock.set("2026-11-27T19:53:42Z")
    new = site.add("written on Shanghai time")
    with DemoServer(site):
        found = ids(
            api(http, site, "wp/v2/posts", _fields="id", modified_after="2026-11-27T12:00:00Z")
        )
        assert found == [new]  # the old post is missed although its GMT stamp is later
        assert old not in found


def test_after_and_before_filter_on_the_publication_date(server, site, clock, http):
    early = site.add("early", date="2020-01-01T00:00:00Z")
    late = site.add("late", date="2024-01-01T00:00:00Z")
    assert ids(api(http, site, "wp/v2/posts", after="2022-01-01T00:00:00Z")) == [late]
    assert ids(api(http, site, "wp/v2/posts", before="2022-01-01T00:00:00Z")) == [early]
    assert ids(api(http, site, "wp/v2/posts", after="2024-01-01T00:00:00Z")) == []


def test_back_dated_insert_and_scheduled_post_escape_modified_after(server, site, clock, http):
    backdated = site.add("imported", date="2020-01-01T00:00:00Z")
    rec = site.record(backdated)
    assert rec["modified_gmt"] == rec["date_gmt"] == "2020-01-01T00:00:00"
    scheduled = site.add("scheduled", date="2026-11-27T19:57:25Z")
    assert site.post(scheduled).status == "future"
    assert api(http, site, f"wp/v2/posts/{scheduled}").status_code == 401
    clock.set("2026-11-27T19:56:23Z")
    site.edit(scheduled, content="<p>final text</p>")
    clock.set("2026-11-27T19:58:00Z")
    assert site.run_cron() == [scheduled]
    data = api(http, site, f"wp/v2/posts/{scheduled}").json()
    assert data["status"] == "publish"
    assert data["date_gmt"] == "2026-11-27T19:57:25"
    assert data["modified_gmt"] == "2026-11-27T19:56:23"  # cron did not move it
    watermark = "2026-11-27T19:56:25Z"
    assert ids(api(http, site, "wp/v2/posts", modified_after=watermark)) == []
    assert ids(api(http, site, "wp/v2/posts", after=watermark)) == [scheduled]


# --- visibility -------------------------------------------------------------------------


def test_single_get_401_for_hidden_and_404_for_gone(server, site, clock, http):
    public = site.add("public")
    hidden = {status: site.add(status, status=status) for status in ("draft", "private", "pending")}
    hidden["future"] = site.add("future", date="2030-01-01T00:00:00Z")
    trashed = site.add("trashed")
    site.trash(trashed)
    hidden["trash"] = trashed
    deleted = site.add("deleted")
    site.delete(deleted)
    page = site.add("a page", type="page")

    ok = api(http, site, f"wp/v2/posts/{public}")
    assert ok.status_code == 200
    assert ok.headers["Link"] == f'<{site.url}public/>; rel="alternate"; type=text/html'
    for status, post_id in hidden.items():
        resp = api(http, site, f"wp/v2/posts/{post_id}")
        assert resp.status_code == 401, status
        assert resp.json() == {
            "code": "rest_forbidden",
            "message": "Sorry, you are not allowed to do that.",
            "data": {"status": 401},
        }
    for post_id in (deleted, 999999, page):
        resp = api(http, site, f"wp/v2/posts/{post_id}")
        assert resp.status_code == 404
        assert resp.json() == {
            "code": "rest_post_invalid_id",
            "message": "Invalid post ID.",
            "data": {"status": 404},
        }
    assert api(http, site, f"wp/v2/pages/{page}").status_code == 200
    assert ids(api(http, site, "wp/v2/posts")) == [public]


def test_include_silently_drops_hidden_and_missing_ids(server, site, http):
    public = site.add("public")
    draft = site.add("draft", status="draft")
    private = site.add("private", status="private")
    trashed = site.add("trashed")
    site.trash(trashed)
    gone = site.add("gone")
    site.delete(gone)
    resp = api(
        http,
        site,
        "wp/v2/posts",
        include=f"{draft},{private},{trashed},{gone},99999,{public}",
        _fields="id,status",
    )
    assert resp.status_code == 200
    assert resp.json() == [{"id": public, "status": "publish"}]
    assert resp.headers["X-WP-Total"] == "1"


def test_status_other_than_publish_is_400_forbidden(server, site, http):
    site.add("p")
    for status in ("draft", "any", "trash", "publish,draft"):
        resp = api(http, site, "wp/v2/posts", status=status)
        assert resp.status_code == 400, status
        assert resp.json()["data"] == {
            "status": 400,
            "params": {"status": "Status is forbidden."},
            "details": {
                "status": {
                    "code": "rest_forbidden_status",
                    "message": "Status is forbidden.",
                    "data": {"status": 401},
                }
            },
        }
    assert api(http, site, "wp/v2/posts", status="publish").status_code == 200
    assert (
        api(http, site, "wp/v2/posts", status="bogus").json()["data"]["details"]["status"]["code"]
        == "rest_not_in_enum"
    )


def test_trash_untrash_unpublish_and_what_moves_modified(server, site, clock, http):
    post = site.add("Vis published")
    clock.advance(2)
    site.trash(post)
    assert site.record(post)["slug"] == "vis-published__trashed"
    assert site.record(post)["link"].endswith("/vis-published__trashed/")
    assert site.record(post)["modified_gmt"] == "2026-11-27T19:50:02"
    clock.advance(2)
    site.untrash(post)
    assert site.post(post).status == "draft"
    assert site.record(post)["slug"] == "vis-published"
    assert api(http, site, f"wp/v2/posts/{post}").status_code == 401
    site.edit(post, status="publish")
    assert api(http, site, f"wp/v2/posts/{post}").status_code == 200
    clock.advance(2)
    site.unpublish(post)
    assert api(http, site, f"wp/v2/posts/{post}").status_code == 401
    assert site.record(post)["modified_gmt"] == "2026-11-27T19:50:06"


def test_terms_only_change_keeps_modified_and_edits_count_revisions(server, site, clock, http):
    post = site.add("Terms", "<p>v1</p>")
    news = site.add_term("category", "News")

    def state() -> dict:
        return api(
            http,
            site,
            f"wp/v2/posts/{post}",
            _fields="modified_gmt,categories,_links.version-history",
        ).json()

    assert state()["_links"]["version-history"][0]["count"] == 0
    clock.advance(11)
    site.set_terms(post, categories=[news])
    after_terms = state()
    assert after_terms["modified_gmt"] == "2026-11-27T19:50:00"
    assert after_terms["categories"] == [news]
    clock.advance(2)
    site.edit(post, categories=["Tech"])  # like the editor: bumps, first revision
    assert state()["modified_gmt"] == "2026-11-27T19:50:13"
    assert state()["_links"]["version-history"][0]["count"] == 1
    clock.advance(3)
    site.touch(post)  # no change: modified moves, no revision
    assert state()["modified_gmt"] == "2026-11-27T19:50:16"
    assert state()["_links"]["version-history"][0]["count"] == 1
    clock.advance(5)
    site.edit(post, content="<p>v2</p>")
    assert state()["_links"]["version-history"][0]["count"] == 2
    site.rename_term(news, "Breaking", slug="breaking")
    assert state()["modified_gmt"] == "2026-11-27T19:50:21"
    revisions = api(http, site, f"wp/v2/posts/{post}/revisions")
    assert revisions.status_code == 401 and revisions.json()["code"] == "rest_cannot_read"


def test_password_protected_posts_are_listed_with_empty_content(server, site, http):
    post = site.add("Secret", "<p>hidden</p>", password="pw")
    data = api(http, site, "wp/v2/posts").json()[0]
    assert data["id"] == post
    assert data["content"] == {"rendered": "", "protected": True}
    assert data["excerpt"] == {"rendered": "", "protected": True}
    assert data["title"]["rendered"] == "Protected: Secret"
    unlocked = api(http, site, f"wp/v2/posts/{post}", password="pw").json()
    assert unlocked["content"]["rendered"] == "<p>hidden</p>"


# --- _fields and ordering ----------------------------------------------------------------


def test_fields_filters_in_record_order(server, site, http):
    post = site.add("Fielded", "<p>x</p>")
    rec = api(http, site, f"wp/v2/posts/{post}", _fields="modified_gmt,id").json()
    assert list(rec) == ["id", "modified_gmt"]
    nested = api(http, site, "wp/v2/posts", _fields="id,title.rendered").json()
    assert nested == [{"id": post, "title": {"rendered": "Fielded"}}]
    # core's rest_filter_response_fields keeps only what was asked for
    assert api(http, site, "wp/v2/posts", _fields="link").json() == [
        {"link": f"{site.url}fielded/"}
    ]


def test_orderby_id_date_modified_title_slug_include(server, site, clock, http):
    a = site.add("Bravo", date="2021-01-01T00:00:00Z")
    b = site.add("alpha", date="2023-01-01T00:00:00Z")
    c = site.add("Charlie", date="2022-01-01T00:00:00Z")
    clock.advance(10)
    site.touch(a)

    def order(**params: object) -> list[int]:
        return ids(api(http, site, "wp/v2/posts", _fields="id", **params))

    assert order() == [b, c, a]  # date desc by default
    assert order(orderby="id", order="asc") == [a, b, c]
    assert order(orderby="id") == [c, b, a]
    assert order(orderby="modified", order="asc") == [c, b, a]
    assert order(orderby="modified") == [a, b, c]
    assert order(orderby="title", order="asc") == [b, a, c]
    assert order(orderby="slug", order="asc") == [b, a, c]
    assert order(orderby="include", include=f"{c},{a},{b}") == [c, a, b]
    bad = api(http, site, "wp/v2/posts", orderby="foo").json()
    assert bad["data"]["params"]["orderby"] == (
        "orderby is not one of author, date, id, include, modified, parent, relevance, slug, "
        "include_slugs, and title."
    )
    assert (
        api(http, site, "wp/v2/posts", orderby="relevance").json()["code"]
        == "rest_no_search_term_defined"
    )
    assert (
        api(http, site, "wp/v2/posts", orderby="include").json()["code"]
        == "rest_orderby_include_missing_include"
    )


def test_other_filters(server, site, http):
    news = site.add_term("category", "News")
    a = site.add("Sanctions announced", categories=[news], tags=["Sanctions"], author=2)
    b = site.add("Quiet week", sticky=True)
    assert ids(api(http, site, "wp/v2/posts", categories=news)) == [a]
    assert ids(api(http, site, "wp/v2/posts", categories_exclude=news)) == [b]
    assert ids(api(http, site, "wp/v2/posts", author=2)) == [a]
    assert ids(api(http, site, "wp/v2/posts", exclude=a)) == [b]
    assert ids(api(http, site, "wp/v2/posts", slug="quiet-week")) == [b]
    assert ids(api(http, site, "wp/v2/posts", search="sanctions")) == [a]
    assert ids(api(http, site, "wp/v2/posts", sticky="true")) == [b]
    tags = api(http, site, "wp/v2/tags", _fields="id,name,count").json()
    assert tags == [{"id": tags[0]["id"], "count": 1, "name": "Sanctions"}]


# --- ?rest_route= and mounting ---------------------------------------------------------------


def test_rest_route_fallback_matches_pretty_urls(server, site, clock, http):
    add_posts(site, clock, 3)
    pretty = http.get(site.url + "wp-json/wp/v2/posts?_fields=id,link")
    plain = http.get(site.url + "?rest_route=/wp/v2/posts&_fields=id,link")
    assert plain.status_code == 200 and plain.content == pretty.content
    assert plain.headers["X-WP-Total"] == "3"
    paged = http.get(site.url + "?rest_route=/wp/v2/posts&per_page=2&_fields=id")
    # core builds the Link from every query parameter, rest_route included
    assert paged.headers["Link"] == (
        f"<{site.url}wp-json/wp/v2/posts?rest_route=%2Fwp%2Fv2%2Fposts&per_page=2&_fields=id"
        '&page=2>; rel="next"'
    )
    single = http.get(site.url + f"?rest_route=/wp/v2/posts/{ids(pretty)[0]}")
    assert single.status_code == 200


def test_site_without_pretty_permalinks(clock, http):
    site = DemoSite(clock=clock, pretty_permalinks=False)
    post = site.add("Plain")
    with DemoServer(site):
        home = http.get(site.url)
        assert home.headers["Link"] == (
            f'<{site.url}index.php?rest_route=/>; rel="https://api.w.org/"'
        )
        assert http.get(site.url + "wp-json/").status_code == 404
        data = http.get(site.url + "index.php?rest_route=/wp/v2/posts").json()
        assert data[0]["link"] == f"{site.url}?p={post}"
        assert data[0]["_links"]["self"][0]["href"] == (
            f"{site.url}index.php?rest_route=/wp/v2/posts/{post}"
        )


def test_subdirectory_install_under_a_prefix(clock, http):
    en = DemoSite("English", clock=clock)
    root = DemoSite("Root", clock=clock)
    post = en.add("Hello")
    other = root.add("At the root")
    with DemoServer(en, prefix="/en") as srv:
        srv.add_site(root)
        assert en.url.endswith("/en/") and srv.url == en.url
        home = http.get(en.url)
        assert home.headers["Link"] == f'<{en.url}wp-json/>; rel="https://api.w.org/"'
        assert http.get(en.url.rstrip("/")).status_code == 200
        assert ids(http.get(en.url + "wp-json/wp/v2/posts")) == [post]
        assert ids(http.get(en.url + "?rest_route=/wp/v2/posts")) == [post]
        assert http.get(en.url + "wp-json/").json()["home"] == en.url.rstrip("/")
        rec = http.get(en.url + f"wp-json/wp/v2/posts/{post}").json()
        assert rec["link"] == en.url + "hello/"
        assert ids(http.get(root.url + "wp-json/wp/v2/posts")) == [other]
        assert http.get(en.url + "hello/").status_code == 200
        robots = http.get(root.url + "robots.txt").text
        assert "Disallow: /en/wp-admin/" in robots and "Disallow: /wp-admin/" in robots


def test_prefix_without_a_root_site_leaves_other_paths_404(clock, http):
    en = DemoSite(clock=clock)
    with DemoServer(en, prefix="/en") as srv:
        root = srv.url.rsplit("/en/", 1)[0] + "/"
        assert http.get(root).status_code == 404
        assert http.get(root + "wp-json/").status_code == 404
        assert en.stats()["requests"] == 0


def _can_bind(host: str) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((host, 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="127.0.0.2 is not a local address here")
def test_two_sites_on_their_own_addresses_with_separate_counters(clock, http):
    one = DemoSite("One", clock=clock)
    two = DemoSite("Two", clock=clock)
    first = one.add("first")
    second = two.add("second")
    with DemoServer(one) as srv:
        srv.add_site(two, host="127.0.0.2")
        assert one.url.startswith("http://127.0.0.1:")
        assert two.url.startswith("http://127.0.0.2:")
        assert ids(http.get(one.rest_url("wp/v2/posts"))) == [first]
        assert ids(http.get(two.rest_url("wp/v2/posts"))) == [second]
        assert http.get(two.url + "wp-json/").json()["name"] == "Two"
        body = http.get(two.rest_url("wp/v2/posts"), params={"_fields": "id"}).content
        assert one.stats()["requests"] == 1
        stats = two.stats()
        assert stats["requests"] == 3 and stats["by_status"] == {200: 3}
        assert stats["body_bytes"] >= len(body) and stats["bytes"] > stats["body_bytes"]
        assert two.request_log[-1] == ("GET", "/wp-json/wp/v2/posts?_fields=id", 200, len(body))
        assert srv.stats()[two.url]["requests"] == 3


def test_a_site_added_after_start_is_served_at_once(clock, http):
    one = DemoSite(clock=clock)
    with DemoServer(one) as srv:
        late = DemoSite("Late", clock=clock)
        url = srv.add_site(late, host="127.0.0.1", port=0)
        assert url != one.url
        assert http.get(url + "wp-json/").json()["name"] == "Late"


# --- feed, sitemaps, robots, failures ------------------------------------------------------------


def test_feed_is_rss_of_the_latest_ten_with_conditional_get(server, site, clock, http):
    created = add_posts(site, clock, 12)
    resp = http.get(site.url + "feed/")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/rss+xml; charset=UTF-8"
    items = ET.fromstring(resp.content).findall("./channel/item")
    assert len(items) == 10
    assert items[0].findtext("link") == site.url + "post-11/"
    assert resp.headers["Last-Modified"] == "Fri, 27 Nov 2026 20:01:00 GMT"
    again = http.get(site.url + "feed/", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    site.edit(created[0], title="edited")
    assert (
        http.get(site.url + "feed/", headers={"If-None-Match": resp.headers["ETag"]}).status_code
        == 200
    )
    assert http.get(site.url + "?feed=rss2").status_code == 200


def test_sitemaps_list_urls_without_lastmod(server, site, clock, http):
    posts = add_posts(site, clock, 3)
    site.add("About", type="page")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    index = ET.fromstring(http.get(site.url + "wp-sitemap.xml").content)
    locs = [e.text for e in index.findall("s:sitemap/s:loc", ns)]
    assert site.url + "wp-sitemap-posts-post-1.xml" in locs
    assert site.url + "wp-sitemap-posts-page-1.xml" in locs
    urlset = ET.fromstring(http.get(site.url + "wp-sitemap-posts-post-1.xml").content)
    assert [e.text for e in urlset.findall("s:url/s:loc", ns)] == [
        site.url + f"post-{i}/" for i in range(len(posts))
    ]
    assert urlset.findall(".//s:lastmod", ns) == []
    redirect = http.get(site.url + "sitemap.xml", allow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == site.url + "wp-sitemap.xml"


def test_robots_txt(server, site, http):
    resp = http.get(site.url + "robots.txt")
    assert resp.text == (
        "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n\n"
        f"Sitemap: {site.url}wp-sitemap.xml\n"
    )


def test_post_pages_link_to_their_rest_route(server, site, http):
    post = site.add("Readable")
    resp = http.get(site.url + "readable/")
    assert resp.status_code == 200
    assert (
        f'<{site.url}wp-json/wp/v2/posts/{post}>; rel="alternate"; type="application/json"'
        in resp.headers["Link"]
    )
    assert (
        http.get(site.url + f"?p={post}", allow_redirects=False).headers["Location"]
        == site.url + "readable/"
    )
    site.unpublish(post)
    assert http.get(site.url + "readable/").status_code == 404
    assert http.get(site.url + f"?p={post}").status_code == 404


def test_injected_failures_and_closed_rest_api(server, site, http):
    site.fail_next(429, retry_after=7, path_contains="/wp-json/")
    limited = http.get(site.url + "wp-json/")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert http.get(site.url + "wp-json/").status_code == 200
    site.rest_mode = "restricted"
    assert http.get(site.url + "wp-json/").status_code == 200
    assert (
        http.get(site.rest_url("wp/v2/posts")).json()["code"] == "itsec_rest_api_access_restricted"
    )
    site.rest_mode = "disabled"
    assert http.get(site.url + "wp-json/").json()["code"] == "rest_cannot_access"
    site.rest_mode = "blocked"
    blocked = http.get(site.rest_url("wp/v2/posts"))
    assert blocked.status_code == 403 and "json" not in blocked.headers["Content-Type"]
    assert http.get(site.url + "feed/").status_code == 200


def test_before_5_7_modified_after_is_silently_ignored(clock, http):
    site = DemoSite(clock=clock, supports_modified_after=False)
    site.add("old", date="2020-01-01T00:00:00Z")
    with DemoServer(site):
        resp = api(http, site, "wp/v2/posts", modified_after="2030-01-01T00:00:00Z")
        assert resp.headers["X-WP-Total"] == "1"


# --- Python API, data set, command line, speed -----------------------------------------


def test_manual_clock_and_future_posts(clock):
    site = DemoSite(clock=clock)
    assert site.now() == datetime(2026, 11, 27, 19, 50, tzinfo=UTC)
    ticking = ManualClock("2026-01-01T00:00:00Z", tick=1)
    assert ticking() + timedelta(seconds=1) == ticking()
    post = site.add("soon", date=datetime(2026, 11, 27, 20, 0, tzinfo=UTC))
    assert site.post(post).status == "future"
    assert site.run_cron() == []
    clock.advance(minutes=10)
    assert site.run_cron() == [post]
    assert site.post(post).status == "publish"


def test_bundled_demo_site_keeps_the_fixture_byte_for_byte(http):
    site = load_demo_site(clock=ManualClock(START))
    raw = json.loads(FIXTURE.read_text(encoding="utf-8"))
    original = json.loads(CAPTURED_4546.read_text(encoding="utf-8"))
    assert raw[0] == original
    assert len(raw) == 12
    with DemoServer(site):
        got = http.get(site.rest_url("wp/v2/posts/4546")).content.decode()
        expected = json.dumps(original, separators=(",", ":")).replace("/", "\\/")
        expected = expected.replace("https:\\/\\/iuhrdf.org\\/en", site.home.replace("/", "\\/"))
        assert got == expected
        listing = http.get(site.rest_url("wp/v2/posts"), params={"per_page": 100})
        assert listing.headers["X-WP-Total"] == "8"
        assert http.get(site.rest_url("wp/v2/pages")).headers["X-WP-Total"] == "2"
        assert http.get(site.rest_url("wp/v2/posts/4617")).status_code == 401  # draft
        assert http.get(site.rest_url("wp/v2/posts/4620")).status_code == 401  # scheduled
        kinds = [c["kind"] for c in apply_demo_changes(site)]
        assert sorted(set(kinds)) == ["deleted", "edited", "new", "unpublished"]
        assert http.get(site.rest_url("wp/v2/posts/4598")).status_code == 404
        assert http.get(site.rest_url("wp/v2/posts/4575")).status_code == 401


def test_main_serves_the_demo_site():
    proc = subprocess.Popen(
        [sys.executable, "-m", "wpwatch.demo.server", "--port", "0", "--prefix", "/en"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        line = proc.stderr.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert url.endswith("/en/")
        with requests.Session() as session:
            assert session.get(url + "wp-json/").json()["name"] == "Demo Human Rights Foundation"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()


def test_concurrent_reads_while_the_site_changes(server, site, clock, http):
    created = add_posts(site, clock, 150)
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        with requests.Session() as session:
            while not done.is_set():
                try:
                    resp = session.get(site.rest_url("wp/v2/posts"), params={"per_page": 100})
                    assert resp.status_code == 200
                    assert len(resp.json()) == 100
                except BaseException as exc:
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for post_id in created[:40]:
        site.edit(post_id, content="<p>changed</p>")
    done.set()
    for t in threads:
        t.join()
    assert errors == []
