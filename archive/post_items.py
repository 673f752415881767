"""Per-post records cut from REST listings, so that a post's own API URL replays.

wpwatch reads full records in listings (``/wp/v2/posts?include=1,2,3``), so the
archive holds no answer at a post's own URL (``/wp/v2/posts/1``). WordPress
answers that URL with the very object the listing holds at that position (the
same controller prepares both), so the bytes of that object, cut out of the
listing exactly as received, are what a replay tool should show there.

Each such cut is a WARC ``resource`` record (no HTTP headers: none were
received for that URL) whose target is the post's API URL and whose date is
the listing's fetch time. It says where its bytes come from in named fields:
``WPWatch-Cut-From`` (the listing's response record), its target URI, and
``WPWatch-Cut-Range`` (the byte range in that record's payload), so anyone can
check that the record holds nothing but bytes of the original answer. The
records go in a WARC of their own, next to the export of the original answers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.export import SHA256Writer, load_response, warc_record_id

_WHITESPACE = " \t\r\n"


@dataclass
class PostPage:
    """One post as a page of the package: the URL that replays it, its title, first capture."""

    url: str
    title: str
    first_seen: str
    type: str
    wp_id: int
    link: str | None


@dataclass
class ItemsSummary:
    records: int = 0
    uncut: int = 0  # versions whose answer was no listing that could be cut


def post_api_url(listing_url: str, wp_id: int) -> str:
    """The URL of one post under the route of a listing URL, without the listing's query.

    ``…/wp-json/wp/v2/posts?include=5`` → ``…/wp-json/wp/v2/posts/5``;
    ``…/?rest_route=/wp/v2/posts&include=5`` → ``…/?rest_route=/wp/v2/posts/5``.
    """
    parts = urlsplit(listing_url)
    route = dict(parse_qsl(parts.query, keep_blank_values=True)).get("rest_route")
    if route is not None:
        query = urlencode([("rest_route", f"{route.rstrip('/')}/{wp_id}")], safe="/")
        return urlunsplit(parts._replace(query=query, fragment=""))
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{wp_id}", query="",
                                     fragment=""))


def item_spans(raw: bytes) -> list[tuple[int, int]] | None:
    """The byte range of each element of a JSON array body, or None if raw is no plain array.

    A UTF-8 byte order mark before the array is allowed; anything else before or
    after it (PHP notices, cache comments) is not, as then the cut would not be
    the answer WordPress gives at the post's URL.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = 1 if text.startswith("\ufeff") else 0
    while start < len(text) and text[start] in _WHITESPACE:
        start += 1
    if not text.startswith("[", start):
        return None
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []
    pos, byte_pos, char_pos = start + 1, 0, 0

    def to_bytes(i: int) -> int:
        nonlocal byte_pos, char_pos
        byte_pos += len(text[char_pos:i].encode("utf-8"))
        char_pos = i
        return byte_pos

    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if text.startswith("]", pos) and not spans:
            break
        try:
            _, end = decoder.raw_decode(text, pos)
        except ValueError:
            return None
        spans.append((to_bytes(pos), to_bytes(end)))
        pos = end
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if text.startswith(",", pos):
            pos += 1
            continue
        if text.startswith("]", pos):
            break
        return None
    if text[pos + 1:].strip(_WHITESPACE):
        return None
    return spans


def _content_type(headers_json: str) -> str:
    for name, value in json.loads(headers_json):
        if name.lower() == "content-type" and "json" in value.lower():
            return str(value)
    return "application/json; charset=UTF-8"


def write_post_items(
    conn: Connection,
    fh: IO[bytes],
    site: dict[str, Any],
    *,
    since: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ItemsSummary, list[PostPage]]:
    """Write the cut records of one site's versions to fh (a gzipped WARC); returns the pages."""
    v, p, r = s.versions.c, s.posts.c, s.responses.c
    q = (
        select(v.id, v.response_id, v.item_index, v.fetched_at, p.type, p.wp_id, p.title,
               p.link, r.url)
        .join(s.posts, p.id == v.post_id)
        .join(s.responses, r.id == v.response_id)
        .where(p.site_id == site["id"])
        .order_by(v.response_id, v.id)
    )
    if since:
        q = q.where(v.fetched_at >= since)
    rows = conn.execute(q).all()
    writer = SHA256Writer(fh, gzip=True, warc_version="1.1")
    summary = ItemsSummary()
    pages: dict[tuple[str, int], PostPage] = {}
    loaded: tuple[int, dict[str, Any], bytes, list[tuple[int, int]] | None] | None = None
    for done, row in enumerate(rows, 1):
        if loaded is None or loaded[0] != row.response_id:
            resp, raw = load_response(conn, row.response_id)
            loaded = (row.response_id, resp, raw, item_spans(raw))
        _, resp, raw, spans = loaded
        url = _write_item(writer, site["url"], row, resp, raw, spans)
        if url is None:
            url = row.url if row.item_index is None else None
            summary.uncut += 1
        else:
            summary.records += 1
        if url is not None:
            key = (row.type, row.wp_id)
            page = pages.get(key)
            if page is None or row.fetched_at < page.first_seen:
                pages[key] = PostPage(url, html.unescape(row.title or "") or url,
                                      row.fetched_at, row.type, row.wp_id, row.link)
        if progress:
            progress(done, len(rows))
    return summary, sorted(pages.values(), key=lambda pg: (pg.first_seen, pg.url))


def _write_item(
    writer: SHA256Writer,
    site_url: str,
    row: Any,
    resp: dict[str, Any],
    raw: bytes,
    spans: list[tuple[int, int]] | None,
) -> str | None:
    """Cut one version's object out of its listing; returns the URL written, or None."""
    if spans is None or row.item_index is None or not 0 <= row.item_index < len(spans):
        return None
    start, end = spans[row.item_index]
    body = raw[start:end]
    try:
        if json.loads(body).get("id") != row.wp_id:
            return None
    except (ValueError, AttributeError):
        return None
    url = post_api_url(resp["url"], row.wp_id)
    record = writer.create_warc_record(
        url, "resource", payload=BytesIO(body), length=len(body),
        warc_content_type=_content_type(resp["headers"]),
        warc_headers_dict={
            "WARC-Record-ID": warc_record_id(site_url, "post-item", row.id),
            "WARC-Date": resp["fetched_at"],
            "WPWatch-Cut-From": warc_record_id(site_url, "response", row.response_id),
            "WPWatch-Cut-From-Target-URI": resp["url"],
            "WPWatch-Cut-Range": f"bytes={start}-{end - 1}/{len(raw)}",
        },
    )
    writer.write_record(record)
    return url
