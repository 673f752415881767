"""Degraded mode: what a site still says about its posts when its REST API is closed.

Pure functions, no I/O (the spider fetches). Sources, in the order used:

* the RSS 2.0 feed (``/feed/``, or ``/?feed=rss2`` without pretty permalinks): its
  items carry ``<guid>…?p=ID</guid>`` (the post id), ``<link>``, ``<title>``,
  ``<pubDate>`` and often the content;
* the core sitemaps (``/wp-sitemap.xml`` and its ``wp-sitemap-posts-<type>-N.xml``
  pages, WordPress 5.5+): every public post's URL, no ids;
* a post's own page, for a sitemap URL we do not know: its ``shortlink``
  (``?p=ID``) and ``rel="alternate" type="application/json"`` links name the id
  and the REST base.

Versions made here carry ``normalized["source"]`` (``"feed"`` or ``"page"``), so
that the first REST version of such a post is compared only on the fields both
sources have (``archive.fallback_writes.FALLBACK_FIELDS``). A post missing from a feed or a
sitemap proves nothing: nothing here ever says deleted or unpublished.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from lxml import etree

from archive import PostRecord
from core.exceptions import FallbackError
from crawler import wpapi
from diffs.normalize import content_hash, normalize

MAX_XML = 16 * 1024 * 1024  # bytes of one feed or sitemap that we parse at most


@dataclass(frozen=True)
class FeedItem:
    index: int
    wp_id: int | None
    link: str | None
    title: str
    date_gmt: str | None
    content: str | None  # content:encoded, when the feed carries full text
    excerpt: str


@dataclass(frozen=True)
class PageIdentity:
    wp_id: int
    rest_base: str | None  # from the rel="alternate" application/json link
    type_slug: str | None  # from the body class (single-<slug>, page)
    title: str


def feed_urls(site_url: str) -> list[str]:
    home = wpapi.home_url(site_url)
    return [home + "feed/", home + "?feed=rss2"]


def sitemap_urls(site_url: str) -> list[str]:
    home = wpapi.home_url(site_url)
    return [home + "wp-sitemap.xml", home + "?sitemap=index"]


def _xml_root(body: bytes) -> Any:
    if len(body) > MAX_XML:
        raise FallbackError(f"larger than {MAX_XML // (1024 * 1024)} MB")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=True,
        remove_comments=True, remove_pis=True, load_dtd=False,
    )
    try:
        root = etree.fromstring(body.removeprefix(b"\xef\xbb\xbf").lstrip(), parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise FallbackError(f"not XML ({exc})") from None
    if root is None:
        raise FallbackError("not XML")
    return root


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(el: Any, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return "".join(child.itertext())
    return None


_ID_IN_URL = re.compile(r"[?&](?:p|page_id)=(\d+)(?:&|$)")


def id_from_url(url: str | None) -> int | None:
    """The post id in a ``?p=ID`` / ``?page_id=ID`` URL (a feed guid, a shortlink)."""
    if not url:
        return None
    m = _ID_IN_URL.search(url.strip())
    return int(m.group(1)) if m else None


def _gmt(value: str | None) -> str | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime(wpapi.WP_DATE)


def parse_feed(body: bytes) -> list[FeedItem]:
    """The items of an RSS 2.0 feed; FallbackError when it is not one."""
    root = _xml_root(body)
    if _local(root.tag) != "rss":
        raise FallbackError("not an RSS feed")
    channel = next((c for c in root if _local(c.tag) == "channel"), None)
    if channel is None:
        raise FallbackError("an RSS feed without a channel")
    items = []
    for i, el in enumerate(c for c in channel if _local(c.tag) == "item"):
        guid = _child_text(el, "guid")
        link = (_child_text(el, "link") or "").strip() or None
        items.append(FeedItem(
            index=i,
            wp_id=id_from_url(guid),
            link=link,
            title=" ".join((_child_text(el, "title") or "").split()),
            date_gmt=_gmt(_child_text(el, "pubDate")),
            content=_child_text(el, "encoded"),
            excerpt=_child_text(el, "description") or "",
        ))
    return items


_SKIP_SITEMAPS = re.compile(r"taxonom|users|author|category|tag", re.IGNORECASE)


def parse_sitemap(body: bytes) -> tuple[list[str], list[str]]:
    """(sub-sitemaps of posts, page URLs) of a sitemap index or URL set."""
    root = _xml_root(body)
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise FallbackError("not a sitemap")
    locs = [
        (_child_text(el, "loc") or "").strip()
        for el in root
        if _local(el.tag) in ("sitemap", "url")
    ]
    locs = [loc for loc in locs if loc]
    if kind == "sitemapindex":
        return [loc for loc in locs if not _SKIP_SITEMAPS.search(_sitemap_name(loc))], []
    return [], locs


def _sitemap_name(loc: str) -> str:
    parts = urlsplit(loc)
    query = parse_qs(parts.query)
    if "sitemap" in query:  # ?sitemap=posts&sitemap-subtype=post
        return f"{query['sitemap'][0]}-{query.get('sitemap-subtype', [''])[0]}"
    return parts.path.rsplit("/", 1)[-1]


def sitemap_type(loc: str) -> str | None:
    """The post type slug of a core posts sitemap (``wp-sitemap-posts-book-1.xml`` → book)."""
    m = re.search(r"wp-sitemap-posts-([\w-]+?)-\d+\.xml", loc)
    if m:
        return m.group(1)
    query = parse_qs(urlsplit(loc).query)
    if query.get("sitemap") == ["posts"]:
        return query.get("sitemap-subtype", [None])[0]
    return None


_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR = r"""\b{}\s*=\s*["']([^"']*)["']"""
_REST_ITEM = re.compile(r"/wp/v2/([\w-]+)/(\d+)(?:[/?&]|$)")


def page_identity(url: str, link_headers: list[str], body: bytes) -> PageIdentity | None:
    """The id (and REST base) of the post a page shows, or None for any other page."""
    text = body[:2_000_000].decode("utf-8", errors="replace")
    links: list[tuple[str, str, str]] = []  # (rel, type, href)
    for value in link_headers:
        for part in value.split(","):
            m = re.match(r"\s*<([^>]*)>(.*)", part)
            if m:
                rel = re.search(r'rel\s*=\s*"?([^";]+)"?', m.group(2))
                typ = re.search(r'type\s*=\s*"?([^";]+)"?', m.group(2))
                links.append((rel.group(1) if rel else "", typ.group(1) if typ else "",
                              m.group(1)))
    for tag in _LINK_TAG.findall(text[:500_000]):
        rel_m = re.search(_ATTR.format("rel"), tag, re.IGNORECASE)
        href_m = re.search(_ATTR.format("href"), tag, re.IGNORECASE)
        typ_m = re.search(_ATTR.format("type"), tag, re.IGNORECASE)
        if rel_m and href_m:
            links.append((rel_m.group(1), typ_m.group(1) if typ_m else "",
                          html.unescape(href_m.group(1))))
    wp_id: int | None = None
    rest_base: str | None = None
    for rel_text, type_text, link in links:
        href = urljoin(url, link.strip())
        if rel_text == "alternate" and "json" in type_text:
            m = _REST_ITEM.search(href.replace("%2F", "/"))
            if m:
                rest_base, wp_id = m.group(1), int(m.group(2))
                break
        if rel_text == "shortlink" and wp_id is None:
            wp_id = id_from_url(href)
    body_class = re.search(r"<body\b[^>]*\bclass\s*=\s*[\"']([^\"']*)[\"']", text, re.IGNORECASE)
    classes = body_class.group(1).split() if body_class else []
    if wp_id is None:
        for cls in classes:
            m = re.fullmatch(r"(?:postid|page-id)-(\d+)", cls)
            if m:
                wp_id = int(m.group(1))
    if wp_id is None:
        return None
    slug = None
    if "page" in classes or any(c.startswith("page-id-") for c in classes):
        slug = "page"
    else:
        slug = next((c[len("single-"):] for c in classes
                     if c.startswith("single-") and c != "single-format-standard"), None)
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return PageIdentity(wp_id, rest_base, slug,
                        " ".join(html.unescape(title.group(1)).split()) if title else "")


def _record(wp_id: int, index: int | None, post: dict[str, Any], source: str) -> PostRecord:
    norm = normalize(post)
    norm["source"] = source
    return PostRecord(
        wp_id=wp_id,
        item_index=index,
        normalized=norm,
        content_hash=content_hash(norm),
        modified_gmt=None,
        date_gmt=post.get("date_gmt"),
        link=post.get("link"),
        title=norm.get("title"),
    )


def record_from_feed(item: FeedItem) -> PostRecord:
    """A version of a post made from its feed item (``source: "feed"``)."""
    assert item.wp_id is not None
    return _record(item.wp_id, item.index, {
        "id": item.wp_id,
        "title": {"rendered": html.escape(item.title, quote=False)},
        "content": {"rendered": item.content or ""},
        "excerpt": {"rendered": item.excerpt},
        "link": item.link,
        "date_gmt": item.date_gmt,
    }, "feed")


def record_from_page(ident: PageIdentity, url: str) -> PostRecord:
    """A version of a post made from its public page (``source: "page"``)."""
    return _record(ident.wp_id, None, {
        "id": ident.wp_id,
        "title": {"rendered": html.escape(ident.title, quote=False)},
        "link": url,
    }, "page")
