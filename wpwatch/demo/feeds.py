"""The RSS feed and the core sitemaps: what still shows new posts when the REST API is closed.

As measured on WordPress 6.1 (docs/wordpress-rest.md §11).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from wpwatch.demo.pages import FrontPages
from wpwatch.demo.php import (
    WP_VERSION,
    auto_excerpt,
    cdata,
    php_int,
    plain_text,
    rfc822,
    utc_naive,
    xml_escape,
)
from wpwatch.demo.response import RequestHeaders, Response


class FeedsAndSitemaps(FrontPages):
    """The RSS 2.0 feed (with ``ETag``/``Last-Modified``) and ``wp-sitemap`` pages."""

    def _feed(self, req_headers: RequestHeaders) -> Response:
        published = [p for p in self._posts.values() if p.status == "publish"]
        posts = sorted(
            (p for p in published if p.type == "post"), key=lambda p: (p.date, p.id), reverse=True
        )[:10]
        newest = max(
            (max(p.modified_gmt, p.date_gmt) for p in published), default=utc_naive(self.clock())
        )
        last_modified = newest.strftime("%a, %d %b %Y %H:%M:%S") + " GMT"
        etag = '"' + hashlib.md5(last_modified.encode()).hexdigest() + '"'
        headers = [
            ("Content-Type", "application/rss+xml; charset=UTF-8"),
            ("Last-Modified", last_modified),
            ("ETag", etag),
            ("Link", f'<{self.api_root}>; rel="https://api.w.org/"'),
        ]
        client_etag = (req_headers.get("If-None-Match") or "").strip()
        client_since = req_headers.get("If-Modified-Since") or ""
        since_ok = False
        if client_since:
            try:
                since_ok = utc_naive(parsedate_to_datetime(client_since)) >= newest
            except (TypeError, ValueError):
                since_ok = False
        etag_ok = client_etag == etag
        if (since_ok and etag_ok) if (client_since and client_etag) else (since_ok or etag_ok):
            return Response(304, headers)
        items = []
        for p in posts:
            cats = []
            for tax_slug in ("category", "post_tag"):
                for tid in p.terms.get(tax_slug, []):
                    term = self._terms[tax_slug].get(tid)
                    if term is not None:
                        cats.append(f"\t\t<category>{cdata(term.name)}</category>\n")
            excerpt = p.excerpt if p.excerpt is not None else auto_excerpt(p.content)
            content = "" if p.password else p.content
            items.append(
                "\t<item>\n"
                f"\t\t<title>{xml_escape(plain_text(p.title))}</title>\n"
                f"\t\t<link>{xml_escape(self.permalink(p))}</link>\n"
                f"\t\t<dc:creator>{cdata(self.authors.get(p.author, f'author-{p.author}'))}"
                "</dc:creator>\n"
                f"\t\t<pubDate>{rfc822(p.date_gmt)}</pubDate>\n"
                + "".join(cats)
                + f'\t\t<guid isPermaLink="false">{xml_escape(p.guid or f"{self._home}/?p={p.id}")}'
                "</guid>\n"
                f"\t\t<description>{cdata(plain_text(excerpt))}</description>\n"
                f"\t\t<content:encoded>{cdata(content)}</content:encoded>\n"
                "\t</item>\n"
            )
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"\n'
            '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
            '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
            '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
            '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
            '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
            '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n\t>\n\n<channel>\n'
            f"\t<title>{xml_escape(self.name)}</title>\n"
            f'\t<atom:link href="{xml_escape(self._feed_url())}" rel="self" '
            'type="application/rss+xml" />\n'
            f"\t<link>{xml_escape(self._home)}</link>\n"
            f"\t<description>{xml_escape(self.description)}</description>\n"
            f"\t<lastBuildDate>{rfc822(newest)}</lastBuildDate>\n"
            f"\t<language>{self.language}</language>\n"
            "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n"
            "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n"
            f"\t<generator>https://wordpress.org/?v={WP_VERSION}</generator>\n"
            + "".join(items)
            + "</channel>\n</rss>\n"
        )
        return Response(200, headers, feed.encode())

    _SITEMAP_MAX = 2000

    def _sitemap_url(self, kind: str, sub: str, page: int) -> str:
        if self.pretty_permalinks:
            return f"{self._home}/wp-sitemap-{kind}-{sub}-{page}.xml"
        return f"{self._home}/?sitemap={kind}&sitemap-subtype={sub}&paged={page}"

    def _sitemap_entries(self, kind: str, sub: str) -> list[str] | None:
        if kind == "posts":
            pt = self._types.get(sub)
            if pt is None or pt.kind != "posts":
                return None
            posts = sorted(
                (p for p in self._posts.values() if p.type == sub and p.status == "publish"),
                key=lambda p: p.id,
            )
            urls = [self.permalink(p) for p in posts]
            if sub == "page":
                urls.insert(0, self._home + "/")
            return urls
        tax = self._taxonomies.get(sub)
        if tax is None or tax.forbidden is not None:
            return None
        terms = sorted(
            (t for t in self._terms[sub].values() if self._term_count(t) > 0), key=lambda t: t.id
        )
        return [self._term_link(t) for t in terms]

    def _sitemap_index(self) -> Response:
        locs: list[str] = []
        for kind, names in (
            ("posts", [t.slug for t in self._types.values() if t.kind == "posts"]),
            ("taxonomies", [t.slug for t in self._taxonomies.values()]),
        ):
            for sub in names:
                entries = self._sitemap_entries(kind, sub) or []
                if kind == "posts" and sub == "page" and len(entries) == 1:
                    entries = (
                        entries
                        if any(
                            p.type == "page" and p.status == "publish" for p in self._posts.values()
                        )
                        else []
                    )
                pages = math.ceil(len(entries) / self._SITEMAP_MAX)
                locs.extend(self._sitemap_url(kind, sub, n) for n in range(1, pages + 1))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{xml_escape(u)}</loc></sitemap>" for u in locs)
            + "</sitemapindex>\n"
        )
        return Response(200, [("Content-Type", "application/xml; charset=UTF-8")], body.encode())

    def _sitemap_page(self, kind: str, sub: str, page: int) -> Response:
        entries = self._sitemap_entries(kind, sub)
        chunk = (entries or [])[(page - 1) * self._SITEMAP_MAX : page * self._SITEMAP_MAX]
        if not chunk or page < 1:
            return self._not_found()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{xml_escape(u)}</loc></url>" for u in chunk)
            + "</urlset>\n"
        )
        return Response(200, [("Content-Type", "application/xml; charset=UTF-8")], body.encode())

    def _sitemap_query(self, params: Mapping[str, Any]) -> Response:
        kind = params.get("sitemap")
        if kind == "index":
            return self._sitemap_index()
        sub = params.get("sitemap-subtype", "")
        page = php_int(params.get("paged", "1")) or 1
        if kind in ("posts", "taxonomies") and isinstance(sub, str):
            return self._sitemap_page(kind, sub, page)
        return self._not_found()
