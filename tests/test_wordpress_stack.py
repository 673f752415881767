"""The real-WordPress test stack (tests/wordpress.py, tests/wp/) behaves as
docs/wordpress-rest.md describes. Anonymous HTTP through urllib only."""

from __future__ import annotations

import base64
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

# tests.wordpress is also the pytest plugin with the fixtures wp_stack and wp_site
# (loaded below, a no-op once tests/conftest.py loads it): pytest rewrites the asserts
# of plugins, so it must know before the import.
pytest.register_assert_rewrite("tests.wordpress")

from tests.wordpress import WP_TESTS, CtlError, WordPressStack, WPSite, http_get  # noqa: E402

pytest_plugins = ["tests.wordpress"]
pytestmark = pytest.mark.wordpress

OLD = "2020-01-01T00:00:00"  # REST format of a back-dated post's dates


def rest_post(site: WPSite, post_id: int) -> tuple[int, dict]:
    resp = site.rest_get(f"/wp/v2/posts/{post_id}")
    return resp.status, resp.json()


def listed_ids(site: WPSite, route: str = "/wp/v2/posts", **params: str) -> list[int]:
    resp = site.rest_get(route, {"_fields": "id", "per_page": "100", **params})
    assert resp.status == 200, resp.text
    return [item["id"] for item in resp.json()]


def api_links(resp) -> list[str]:
    return [v for v in resp.headers.get_all("Link") or [] if 'rel="https://api.w.org/"' in v]


def test_home_page_advertises_the_rest_root(wp_site: WPSite) -> None:
    home = http_get(wp_site.url + "/")
    assert home.status == 200
    assert api_links(home) == [f'<{wp_site.url}/wp-json/>; rel="https://api.w.org/"']
    index = http_get(wp_site.url + "/wp-json/")
    assert index.status == 200
    assert index.json()["url"] == wp_site.url
    assert index.json()["timezone_string"] == "UTC"
    assert index.json()["gmt_offset"] == 0


def test_back_dated_create_has_modified_equal_to_date(wp_site: WPSite) -> None:
    post = wp_site.create(
        "Imported",
        "<p>old</p>",
        date=OLD + "Z",
        categories=["News"],
        tags="a,b",
        topics=["economy"],
    )
    assert (post["status"], post["date_gmt"], post["modified_gmt"]) == ("publish", OLD, OLD)
    status, body = rest_post(wp_site, post["id"])
    assert status == 200
    assert (body["date_gmt"], body["modified_gmt"]) == (OLD, OLD)
    assert (body["categories"], body["tags"], body["topics"]) == (
        post["categories"],
        post["tags"],
        post["topics"],
    )
    assert len(body["tags"]) == 2


def test_term_changes_outside_the_editor_leave_modified_alone(wp_site: WPSite) -> None:
    post = wp_site.create("Terms", "x", date=OLD, categories="News")
    moved = wp_site.set_terms(post["id"], categories="Tech", topics="economy")
    assert moved["categories"] != post["categories"]
    status, body = rest_post(wp_site, post["id"])
    assert (status, body["modified_gmt"]) == (200, OLD)
    assert (body["categories"], body["topics"]) == (moved["categories"], moved["topics"])

    term = wp_site.rename_term("category", "Tech", "Technology")
    assert (term["name"], term["slug"]) == ("Technology", "tech")
    assert rest_post(wp_site, post["id"])[1]["modified_gmt"] == OLD
    category = wp_site.rest_get(f"/wp/v2/categories/{term['term_id']}").json()
    assert category["name"] == "Technology"


def test_touch_and_editor_updates_bump_modified(wp_site: WPSite) -> None:
    touched = wp_site.create("Touch", "<p>same</p>", date=OLD)
    after = wp_site.touch(touched["id"])
    assert after["modified_gmt"] > OLD
    assert (after["content"], after["date_gmt"]) == ("<p>same</p>", OLD)
    assert rest_post(wp_site, touched["id"])[1]["modified_gmt"] == after["modified_gmt"]

    raw = wp_site.create("Raw touch", "x", date=OLD)
    assert wp_site.touch(raw["id"], raw=True)["modified_gmt"] > OLD

    edited = wp_site.create("Edit", "x", date=OLD, categories="News")
    updated = wp_site.update(edited["id"], categories="Tech")  # like the editor
    assert updated["modified_gmt"] > OLD
    assert rest_post(wp_site, edited["id"])[1]["categories"] == updated["categories"]


def test_trash_is_401_and_untrash_gives_a_draft(wp_site: WPSite) -> None:
    post = wp_site.create("Vis", "x")
    trashed = wp_site.trash(post["id"])
    assert (trashed["status"], trashed["slug"]) == ("trash", "vis__trashed")
    status, body = rest_post(wp_site, post["id"])
    assert (status, body["code"]) == (401, "rest_forbidden")
    assert post["id"] not in listed_ids(wp_site)
    assert listed_ids(wp_site, include=str(post["id"])) == []

    restored = wp_site.untrash(post["id"])
    assert (restored["status"], restored["slug"]) == ("draft", "vis")
    assert rest_post(wp_site, post["id"])[0] == 401

    other = wp_site.create("Back", "x")
    wp_site.trash(other["id"])
    assert wp_site.untrash(other["id"], previous_status=True)["status"] == "publish"
    assert rest_post(wp_site, other["id"])[0] == 200


def test_deleted_post_is_404(wp_site: WPSite) -> None:
    post = wp_site.create("Gone", "x")
    assert wp_site.delete(post["id"]) == {"id": post["id"], "deleted": True}
    status, body = rest_post(wp_site, post["id"])
    assert (status, body["code"]) == (404, "rest_post_invalid_id")
    assert wp_site.get(post["id"]) is None


def test_scheduled_post_goes_live_with_its_old_modified(wp_site: WPSite) -> None:
    post = wp_site.schedule("Later", "<p>soon</p>", in_seconds=3600)
    assert post["status"] == "future"
    assert post["date_gmt"] > post["modified_gmt"]
    assert rest_post(wp_site, post["id"])[0] == 401
    assert post["id"] not in listed_ids(wp_site)

    live = wp_site.publish_due(post["id"])
    assert live["status"] == "publish"
    assert live["modified_gmt"] == post["modified_gmt"]
    assert post["modified_gmt"] <= live["date_gmt"] < post["date_gmt"]
    status, body = rest_post(wp_site, post["id"])
    assert status == 200
    assert (body["status"], body["modified_gmt"], body["date_gmt"]) == (
        "publish",
        post["modified_gmt"],
        live["date_gmt"],
    )
    assert post["id"] in listed_ids(wp_site)
    # Invisible to a modified_after poll whose watermark is its (old) modified time.
    assert post["id"] not in listed_ids(wp_site, modified_after=post["modified_gmt"] + "Z")


def test_future_post_inserted_directly_has_modified_equal_to_date(wp_site: WPSite) -> None:
    """wp_insert_post with a date (REST create, importers) sets modified = date, even a
    future one; going live keeps them equal."""
    ahead = datetime.now(UTC) + timedelta(hours=2)
    post = wp_site.create("Direct", "x", status="future", date=ahead)
    assert post["status"] == "future"
    assert post["modified_gmt"] == post["date_gmt"] == ahead.strftime("%Y-%m-%dT%H:%M:%S")
    live = wp_site.publish_due(post["id"])
    assert live["status"] == "publish"
    assert live["modified_gmt"] == live["date_gmt"] < post["date_gmt"]
    body = rest_post(wp_site, post["id"])[1]
    assert body["modified_gmt"] == body["date_gmt"] == live["date_gmt"]


def test_schedule_refuses_less_than_a_minute(wp_site: WPSite) -> None:
    with pytest.raises(CtlError, match="less than 60 s"):
        wp_site.schedule("Too soon", in_seconds=30)


def test_cron_runs_due_events(wp_site: WPSite) -> None:
    events = wp_site.cron()
    assert isinstance(events, list)
    assert all({"hook", "args", "timestamp"} <= set(event) for event in events)


def test_books_and_topics(wp_site: WPSite) -> None:
    book = wp_site.create("A book", "<p>pages</p>", type="book", topics="economy")
    page = wp_site.create("A page", "x", type="page", topics="economy")
    assert listed_ids(wp_site, "/wp/v2/books") == [book["id"]]
    assert wp_site.rest_get(f"/wp/v2/books/{book['id']}").status == 200
    assert book["link"] == f"{wp_site.url}/book/a-book/"
    assert http_get(book["link"]).status == 200  # the rewrite rules know the type
    assert http_get(f"{wp_site.url}/topic/economy/").status == 200
    types = wp_site.rest_get("/wp/v2/types").json()
    assert types["book"]["rest_base"] == "books"
    assert set(types["book"]["taxonomies"]) == {"category", "post_tag", "topic"}
    topics = wp_site.rest_get("/wp/v2/topics", {"_fields": "id,name,count"}).json()
    assert topics == [{"id": book["topics"][0], "name": "economy", "count": 2}]
    assert wp_site.rest_get(f"/wp/v2/pages/{page['id']}").json()["topics"] == book["topics"]
    with pytest.raises(CtlError, match="no taxonomy category"):
        wp_site.create("Page", type="page", categories="News")


def test_second_site_in_shanghai(wp_stack: WordPressStack, wp_site: WPSite) -> None:
    shanghai = wp_stack.site(wp_stack.port(1), timezone="Asia/Shanghai")
    shanghai.reset()
    index = http_get(shanghai.url + "/wp-json/").json()
    assert (index["gmt_offset"], index["timezone_string"]) == (8, "Asia/Shanghai")
    assert http_get(wp_site.url + "/wp-json/").json()["gmt_offset"] == 0
    # Separate databases.
    post = shanghai.create("In Shanghai", "x", date="2020-01-01T08:00:00+08:00")
    assert (post["date"], post["date_gmt"]) == ("2020-01-01T08:00:00", OLD)
    assert listed_ids(shanghai) == [post["id"]]
    assert listed_ids(wp_site) == []


def test_plain_permalinks_site(wp_stack: WordPressStack) -> None:
    plain = wp_stack.site(wp_stack.port(2), permalinks="")
    plain.reset()
    root = http_get(plain.url + "/?rest_route=/")
    assert root.status == 200 and root.json()["url"] == plain.url
    home = http_get(plain.url + "/")
    links = api_links(home)
    assert links == [f'<{plain.url}/index.php?rest_route=/>; rel="https://api.w.org/"']
    assert http_get(plain.rest_root).json()["home"] == plain.url
    post = plain.create("Plain", "x")
    assert post["link"] == f"{plain.url}/?p={post['id']}"
    assert listed_ids(plain) == [post["id"]]


def test_bulk_create_is_back_dated_and_reset_empties(wp_site: WPSite) -> None:
    bulk = wp_site.bulk_create(30, step=60)
    assert bulk["count"] == 30 and len(bulk["ids"]) == 30
    resp = wp_site.rest_get(
        "/wp/v2/posts",
        {"_fields": "id,date_gmt,modified_gmt", "per_page": "100", "orderby": "id", "order": "asc"},
    )
    assert resp.headers["X-WP-Total"] == "30"
    posts = resp.json()
    assert all(p["modified_gmt"] == p["date_gmt"] for p in posts)
    assert posts[0]["date_gmt"] < posts[-1]["date_gmt"]

    assert wp_site.reset()["deleted_posts"] >= 30
    assert wp_site.rest_get("/wp/v2/posts").headers["X-WP-Total"] == "0"
    assert wp_site.rest_get("/wp/v2/categories", {"_fields": "name"}).json() == [
        {"name": "Uncategorized"}
    ]
    assert wp_site.create("After reset")["id"] > bulk["last_id"]  # IDs are never reused


def test_options_batch_and_errors(wp_site: WPSite) -> None:
    assert wp_site.option("blogname", "Renamed") == "Renamed"
    assert http_get(wp_site.url + "/wp-json/").json()["name"] == "Renamed"
    assert wp_site.option("posts_per_page", 7) == "7"  # options are read back as strings
    assert wp_site.option("sticky_posts", [1, 2]) == [1, 2]
    first, second = wp_site.batch(["create", "--title=one"], ["create", "--title=two"])
    assert second["id"] > first["id"]
    with pytest.raises(CtlError, match="no post with ID") as err:
        wp_site.touch(999_999_999)
    assert err.value.returncode == 1
    with pytest.raises(CtlError, match="unknown option") as err:
        wp_site.ctl("create", "--titel=typo")
    assert err.value.returncode == 2


def test_application_password_authenticates(wp_site: WPSite) -> None:
    draft = wp_site.create("Secret", "x", status="draft")
    creds = wp_site.app_password()
    token = base64.b64encode(f"{creds['user']}:{creds['password']}".encode()).decode()
    auth = {"Authorization": f"Basic {token}"}
    assert wp_site.rest_get(f"/wp/v2/posts/{draft['id']}").status == 401
    resp = wp_site.rest_get(f"/wp/v2/posts/{draft['id']}", headers=auth)
    assert (resp.status, resp.json()["status"]) == (200, "draft")


@pytest.mark.slow
def test_fresh_state_dir_start_stop_twice(tmp_path: Path, wp_stack: WordPressStack) -> None:
    """A new state dir initialises; start.sh and stop.sh are idempotent; data survives."""
    state = tmp_path / "wp"
    env = {**os.environ, "WPWATCH_WP_STATE": str(state)}

    def script(name: str) -> str:
        return subprocess.run(
            ["bash", str(WP_TESTS / name)], env=env, check=True, capture_output=True, text=True
        ).stdout

    assert script("start.sh").startswith("started")
    assert script("start.sh").startswith("running")
    port = wp_stack.port(10)
    stack = WordPressStack(state)
    try:
        site = stack.site(port)
        post = site.create("Survives a restart", "x")
    finally:
        stack.close()  # stops php -S only: MariaDB was started by start.sh above
    assert not (state / "sites" / str(port) / "php.pid").exists()
    assert "stopped" in script("stop.sh")
    assert script("stop.sh").strip() == "not running"

    with WordPressStack(state) as again:
        site = again.site(port)
        assert site.rest_get(f"/wp/v2/posts/{post['id']}").json()["title"]["rendered"] == (
            "Survives a restart"
        )
    assert script("stop.sh").strip() == "not running"  # close() stopped what it started
    assert "Shutdown complete" in (state / "mysqld.log").read_text()
