"""The demo/benchmark server must not drift from the real WordPress.

The same posts go into a real WordPress (Debian's package) and into a
DemoSite; the same REST questions go to both; statuses, error codes, totals,
page counts and the order of results must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.wordpress import WordPressStack
from wpwatch.demo import DemoServer, DemoSite

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]

# (title, date, status): some published, some hidden, one trashed, one deleted
POSTS = [(f"Post {i}", f"2024-0{1 + i % 9}-1{i % 9}T10:00:00Z") for i in range(12)]

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("wp/v2/posts", {"per_page": 5}),
    ("wp/v2/posts", {"per_page": 5, "page": 3}),
    ("wp/v2/posts", {"per_page": 5, "page": 4}),  # past the end: 400
    ("wp/v2/posts", {"per_page": 101}),  # 400
    ("wp/v2/posts", {"per_page": 0}),
    ("wp/v2/posts", {"orderby": "foo"}),
    ("wp/v2/posts", {"status": "draft"}),
    ("wp/v2/posts", {"_fields": "id,modified_gmt", "orderby": "modified", "order": "asc"}),
    ("wp/v2/posts", {"_fields": "id,date_gmt", "orderby": "date", "order": "desc",
                     "after": "2024-05-01T00:00:00Z"}),
    ("wp/v2/posts", {"_fields": "id", "orderby": "id", "order": "desc", "per_page": 3}),
    ("wp/v2/posts", {"modified_after": "2024-05-15T10:00:00Z", "_fields": "id"}),  # strict >
    ("wp/v2/posts", {"modified_after": "2024-05-15"}),  # invalid date
    ("wp/v2/pages", {"per_page": 1}),
    ("wp/v2/menu-items", {"per_page": 1}),
]


def answer(url: str) -> tuple[int, str | None, str | None, str | None, Any]:
    r = requests.get(url, timeout=30)
    body = r.json()
    code = body.get("code") if isinstance(body, dict) else None
    # Full records differ by version and plugins (class_list is 6.6+, the test
    # site adds a `topics` taxonomy): field sets are compared when _fields asks.
    shape = (
        [sorted(item) for item in body] if isinstance(body, list) and "_fields=" in url else None
    )
    return r.status_code, code, r.headers.get("X-WP-Total"), r.headers.get("X-WP-TotalPages"), shape


def order(url: str, ids: dict[int, int]) -> list[int] | None:
    body = requests.get(url, timeout=30).json()
    return [ids[item["id"]] for item in body] if isinstance(body, list) else None


def test_same_questions_same_answers(wp_stack: WordPressStack) -> None:
    wp = wp_stack.site(wp_stack.port(7))
    wp.reset()
    demo = DemoSite("Drift")
    wp_ids: dict[int, int] = {}
    demo_ids: dict[int, int] = {}
    for k, (title, date) in enumerate(POSTS):
        wp_ids[wp.create(title, f"<p>{title}</p>", date=date)["id"]] = k
        demo_ids[demo.add(title, f"<p>{title}</p>", date=date)] = k
    by_k_wp = {k: i for i, k in wp_ids.items()}
    by_k_demo = {k: i for i, k in demo_ids.items()}
    wp.trash(by_k_wp[1]); demo.trash(by_k_demo[1])  # noqa: E702
    wp.delete(by_k_wp[2]); demo.delete(by_k_demo[2])  # noqa: E702
    wp.update(by_k_wp[3], status="draft"); demo.unpublish(by_k_demo[3])  # noqa: E702
    with DemoServer(demo) as srv:
        demo_root = srv.url_for(demo) + "wp-json/"
        wp_root = wp.url + "/wp-json/"
        for route, params in QUERIES:
            q = "&".join(f"{k}={v}" for k, v in params.items())
            a, b = answer(f"{wp_root}{route}?{q}"), answer(f"{demo_root}{route}?{q}")
            assert a == b, f"{route}?{q}: WordPress {a} vs demo {b}"
            if a[0] == 200:
                wp_order = order(f"{wp_root}{route}?{q}", wp_ids)
                assert wp_order == order(f"{demo_root}{route}?{q}", demo_ids), q
        include = ",".join(str(by_k_wp[k]) for k in (0, 1, 2, 3, 4))
        include_demo = ",".join(str(by_k_demo[k]) for k in (0, 1, 2, 3, 4))
        assert answer(f"{wp_root}wp/v2/posts?include={include}")[:4] == \
            answer(f"{demo_root}wp/v2/posts?include={include_demo}")[:4]
        for k, expected in ((1, 401), (2, 404), (3, 401), (0, 200)):
            a = answer(f"{wp_root}wp/v2/posts/{by_k_wp[k]}")
            b = answer(f"{demo_root}wp/v2/posts/{by_k_demo[k]}")
            assert a[:2] == b[:2] and a[0] == expected, (k, a[:2], b[:2])
