"""What a node keeps between rounds (crawler.memories): bounded, expiring, shared."""

from __future__ import annotations

from archive import KnownPost, SiteMemory
from crawler.discovery import Discovered
from crawler.memories import KeptMemories, KeptTypeLists
from crawler.wpapi import ContentType

POSTS, PAGES = ContentType("post", "posts", "wp/v2"), ContentType("page", "pages", "wp/v2")


def listing(root: str, *types: ContentType) -> Discovered:
    return Discovered(root, list(types), found_now=True)


def test_a_types_listing_is_kept_for_its_age_then_read_again() -> None:
    now = [0.0]
    kept = KeptTypeLists(max_age=900, max_sites=10, clock=lambda: now[0])
    kept.keep("https://a.org", listing("https://a.org/wp-json/", POSTS, PAGES))
    now[0] = 899.0
    got = kept.get("https://a.org")
    assert got is not None and got.types == [POSTS, PAGES] and not got.found_now
    assert got.api_root == "https://a.org/wp-json/"
    now[0] = 900.0
    assert kept.get("https://a.org") is None  # as old as max_age: read again
    kept.keep("https://a.org", listing("https://a.org/wp-json/", POSTS))
    kept.forget("https://a.org")
    assert kept.get("https://a.org") is None


def test_type_lists_are_bounded_least_recently_used_out_and_shared() -> None:
    kept = KeptTypeLists(max_age=900, max_sites=2)
    for site in ("a", "b"):
        kept.keep(f"https://{site}.org", listing(f"https://{site}.org/wp-json/", POSTS, PAGES))
    a, b = kept.get("https://a.org"), kept.get("https://b.org")
    assert a is not None and b is not None and a.types is b.types  # one list for both
    kept.get("https://a.org")  # a used last: b goes first
    kept.keep("https://c.org", listing("https://c.org/wp-json/", POSTS))
    assert kept.get("https://b.org") is None
    assert kept.get("https://a.org") is not None and kept.get("https://c.org") is not None
    # an age of 0 keeps nothing: every round reads the listing
    never = KeptTypeLists(max_age=0, max_sites=2)
    never.keep("https://a.org", listing("https://a.org/wp-json/", POSTS))
    assert never.get("https://a.org") is None


def memory(posts: int) -> SiteMemory:
    known = {i: KnownPost("published", "2026-01-01T00:00:00", None) for i in range(posts)}
    return SiteMemory({"id": posts, "created_at": "t", "memory_version": 0}, {},
                      {"posts": known}, {("posts", i): None for i in range(posts)}, frozenset())


def test_memories_are_bounded_by_the_posts_they_hold() -> None:
    kept = KeptMemories(max_posts=5)
    kept.keep("https://a.org", memory(3))
    kept.keep("https://b.org", memory(2))
    assert kept.posts == 5
    kept.get("https://a.org")  # a used last: b goes first
    kept.keep("https://c.org", memory(2))
    assert kept.get("https://b.org") is None and kept.posts == 5
    kept.keep("https://d.org", memory(6))  # more than all: not kept
    assert kept.get("https://d.org") is None and kept.get("https://a.org") is not None
