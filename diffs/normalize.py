"""The canonical, reader-visible form of one WordPress REST post record.

``normalize()`` keeps what a reader can see or what names the post publicly, and leaves out
what changes without an editorial change (``modified``, ``_links``, ``class_list``, SEO head
blobs, ``guid``, srcset, nonces, ``?ver=`` busters, whitespace). Two versions with equal
normalized forms are the same version; ``content_hash()`` is the key to store them by.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml.html import HtmlElement

from core.values import canonical_json
from diffs import htmltext

#: A compiled CSS selector (``lxml.cssselect.CSSSelector``): the elements of a tree it selects.
Selector = Callable[[HtmlElement], list[HtmlElement]]

#: Bump when the normalized form changes, so that stored hashes are compared like with like.
SCHEMA_VERSION = 1

# Top-level keys that are never taxonomy fields even when they hold a list of ints.
NON_TAXONOMY_KEYS = frozenset(
    {
        "id", "date", "date_gmt", "guid", "modified", "modified_gmt", "slug", "status", "type",
        "link", "title", "content", "excerpt", "author", "featured_media", "comment_status",
        "ping_status", "sticky", "template", "format", "meta", "parent", "menu_order",
        "class_list", "acf", "_links", "_embedded", "yoast_head", "yoast_head_json",
    }
)  # fmt: skip
# Ignore names that stand for several normalized keys.
_IGNORE_ALIASES: dict[str, tuple[str, ...]] = {
    "content": ("text", "links", "media", "markup"),
    "date": ("date_gmt",),
}


def normalize(
    post: Mapping[str, Any],
    *,
    ignore: Iterable[str] = (),
    selectors: Sequence[Selector] = (),
    patterns: Sequence[re.Pattern[str]] = (),
) -> dict[str, Any]:
    """Canonical, JSON-serializable, deterministic form of a REST post (``view`` context).

    ``ignore`` names top-level keys to leave out, raw (``content``, ``topic``, ``date``) or
    normalized (``text``, ``terms:topic``). ``selectors`` remove the elements they select
    from the rendered HTML (content, title, excerpt) and ``patterns`` remove what they match
    from its visible text, before anything is read from it (``diffs.ignore`` compiles them).
    Password-protected posts come as they are: empty text and ``protected: True``.
    """
    content = post.get("content")
    root = _visible(_rendered(content), selectors, patterns)
    normalized: dict[str, Any] = {
        "title": _inline(_rendered(post.get("title")), selectors, patterns),
        "text": _without(htmltext.text_blocks(root), patterns),
        "links": htmltext.links(root),
        "media": htmltext.media(root),
        "markup": htmltext.markup_hash(root),
        "excerpt": _inline(_rendered(post.get("excerpt")), selectors, patterns),
        "slug": post.get("slug"),
        "link": post.get("link"),
        "date_gmt": post.get("date_gmt"),
        "author": post.get("author"),
        "featured_media": post.get("featured_media"),
        "sticky": bool(post.get("sticky", False)),
        "protected": bool(isinstance(content, Mapping) and content.get("protected")),
        "status": post.get("status"),
        "format": post.get("format"),
        "parent": post.get("parent"),
        "terms": {key: sorted(set(post[key])) for key in sorted(taxonomy_keys(post))},
    }
    for name in ignore:
        name = name.removeprefix("terms:")
        for key in _IGNORE_ALIASES.get(name, (name,)):
            normalized.pop(key, None)
        normalized.get("terms", {}).pop(name, None)
    return normalized


def _visible(
    html: str, selectors: Sequence[Selector], patterns: Sequence[re.Pattern[str]]
) -> HtmlElement:
    """The parsed fragment without what the selectors select and the patterns match."""
    root = htmltext.parse(html)
    for select in selectors:
        for el in select(root):
            if el is not root:
                el.drop_tree()  # its tail is the parent's text and stays
    if patterns:
        for el in root.iter():
            if isinstance(el.tag, str) and el.text:
                el.text = _strip(el.text, patterns)
            if el is not root and el.tail:
                el.tail = _strip(el.tail, patterns)
    return root


def _strip(text: str, patterns: Sequence[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub("", text)
    return text


def _without(blocks: list[str], patterns: Sequence[re.Pattern[str]]) -> list[str]:
    """Blocks with the patterns removed once more, for text that spans inline elements
    (``Views: <b>12</b>``); blocks left empty go."""
    if not patterns:
        return blocks
    out = (htmltext.collapse(_strip(block, patterns)) for block in blocks)
    return [block for block in out if block]


def _inline(html: str, selectors: Sequence[Selector], patterns: Sequence[re.Pattern[str]]) -> str:
    if not selectors and not patterns:
        return htmltext.inline_text(html)
    return " ".join(_without(htmltext.text_blocks(_visible(html, selectors, patterns)), patterns))


def taxonomy_keys(post: Mapping[str, Any]) -> set[str]:
    """The top-level keys of ``post`` that hold taxonomy term ids.

    The ``wp:term`` links name every taxonomy's REST base, which is also its field name;
    without them, any list of ints that is not a known non-taxonomy key counts.
    """
    if _has_term_links(post):
        candidates = _term_link_bases(post)
    else:
        candidates = {k for k in post if k not in NON_TAXONOMY_KEYS}
    return {k for k in candidates | {"categories", "tags"} if _is_id_list(post.get(k))}


def content_hash(normalized: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a normalized post (key order does not matter)."""
    return hashlib.sha256(canonical_json(normalized)).hexdigest()


def revision_count(post: Mapping[str, Any]) -> int | None:
    """How many revisions WordPress has saved (``_links["version-history"][0]["count"]``)."""
    try:
        count = post["_links"]["version-history"][0]["count"]
    except (KeyError, IndexError, TypeError):
        return None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _rendered(value: object) -> str:
    if isinstance(value, Mapping):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _is_id_list(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _has_term_links(post: Mapping[str, Any]) -> bool:
    links = post.get("_links")
    return isinstance(links, Mapping) and isinstance(links.get("wp:term"), list)


def _term_link_bases(post: Mapping[str, Any]) -> set[str]:
    """REST bases from ``_links["wp:term"]`` hrefs (``…/wp/v2/topic?post=1`` → ``topic``)."""
    if not _has_term_links(post):
        return set()
    bases = set()
    for link in post["_links"]["wp:term"]:
        href = link.get("href") if isinstance(link, Mapping) else None
        base = rest_base(href) if isinstance(href, str) else ""
        if base:
            bases.add(base)
    return bases


def rest_base(href: str) -> str:
    """The last part of a REST route in a link, "" when there is none.

    ``https://x.org/wp-json/wp/v2/topic?post=1`` and, on sites without pretty permalinks,
    ``https://x.org/?rest_route=/wp/v2/topic&post=1`` both give ``topic``
    (docs/wordpress-rest.md §2 on ``?rest_route=``, §3 on ``wp:term`` links).
    """
    try:
        parts = urlsplit(href)
    except ValueError:
        return ""
    route = parse_qs(parts.query).get("rest_route", [parts.path])[0]
    return route.rstrip("/").rpartition("/")[2]
