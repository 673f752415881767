"""One WordPress site in memory, answering requests like WordPress 6.1.

:class:`DemoSite` joins the parts (data, editing, REST answers, pages, feed,
sitemaps, faults, counters) and routes one request to the right one:
``site.handle(method, target)`` works without any socket. What it copies from
WordPress is written down in docs/wordpress-rest.md; tests/test_demo_vs_wordpress.py
checks the two side by side.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from wpwatch.demo.faults import SiteFaults
from wpwatch.demo.feeds import FeedsAndSitemaps
from wpwatch.demo.fixtures import FixtureLoading
from wpwatch.demo.php import (
    php_get,
    php_int,
)
from wpwatch.demo.response import RequestHeaders, Response
from wpwatch.demo.rest import RestApi
from wpwatch.demo.stats import RequestStats


class DemoSite(FixtureLoading, RestApi, FeedsAndSitemaps, SiteFaults, RequestStats):
    """One WordPress site in memory, with a thread-safe API to change it.

    Parameters
    ----------
    name, description:
        ``blogname`` and ``blogdescription``.
    gmt_offset:
        Site timezone as hours east of UTC (fixed, no DST).  Settable later;
        like WordPress, already stored local dates are not rewritten.
    timezone_string:
        Shown in the index; defaults to ``"UTC"`` for offset 0 and ``""`` otherwise
        (a manual offset).
    clock:
        ``() -> datetime`` (aware, or naive UTC).  Defaults to the system
        clock; pass a :class:`ManualClock` in tests.
    pretty_permalinks:
        ``False`` gives a site without a permalink structure: ``/wp-json/``
        is a 404, the API root is ``/index.php?rest_route=/`` and links are ``?p=ID``.
    rest_mode:
        ``"open"``; ``"disabled"`` (a "Disable REST API" plugin: 401
        ``rest_cannot_access`` everywhere); ``"restricted"`` (Solid Security:
        401 ``itsec_rest_api_access_restricted`` on content routes, index open);
        ``"blocked"`` (web-server rule: HTML 403 on every REST URL).
    supports_modified_after:
        ``False`` acts like WordPress before 5.7: ``modified_after`` and
        ``modified_before`` are unknown parameters and silently ignored.
    authors:
        ``{user id: display name}`` used by the feed.
    robots_txt:
        Replaces the default ``robots.txt`` body.
    """

    def handle(self, method: str, target: str, headers: RequestHeaders | None = None) -> Response:
        """Answer one request for this site.  ``target`` is the path (relative to the
        site's home) plus query, e.g. ``/wp-json/wp/v2/posts?per_page=5``."""
        headers = headers or {}
        method = method.upper()
        if self.latency:
            time.sleep(self.latency)  # the server's own thread: other requests go on
        injected = self._injected(target)
        if injected is not None:
            return injected
        path, _, query = target.partition("?")
        path = unquote(path) or "/"
        pairs = parse_qsl(query, keep_blank_values=True)
        params = php_get(pairs)
        rest_route = params.get("rest_route")
        if isinstance(rest_route, str) and rest_route:
            return self._serve_rest(method, rest_route, params)
        low = path.lower()
        if self.pretty_permalinks and (low == "/wp-json" or low.startswith("/wp-json/")):
            return self._serve_rest(method, path[len("/wp-json") :] or "/", params)
        if self.pretty_permalinks and (
            low == "/index.php/wp-json" or low.startswith("/index.php/wp-json/")
        ):
            return self._serve_rest(method, path[len("/index.php/wp-json") :] or "/", params)
        return self._serve_front(method, path, params, headers)

    def _serve_front(
        self, method: str, path: str, params: dict[str, Any], req_headers: RequestHeaders
    ) -> Response:
        with self._lock:
            resp = self._front(path, params, req_headers)
        if method == "HEAD":
            resp.body = b""
        return resp

    def _front(self, path: str, params: dict[str, Any], req_headers: RequestHeaders) -> Response:
        pretty = self.pretty_permalinks
        if path in ("/", "/index.php"):
            if params.get("feed"):
                return self._feed(req_headers)
            if params.get("sitemap"):
                return self._sitemap_query(params)
            for key in ("p", "page_id"):
                if key in params:
                    post = self._posts.get(php_int(params[key]) or 0)
                    if post is None or post.status != "publish":
                        return self._not_found()
                    if pretty and post.slug:
                        return Response(
                            301, [("Location", self.permalink(post)), *self._front_headers()]
                        )
                    return self._post_page(post)
            return self._home_page()
        if path == "/robots.txt":
            return Response(
                200, [("Content-Type", "text/plain; charset=utf-8")], self.robots().encode()
            )
        if path in ("/wp-sitemap.xml",):
            return self._sitemap_index()
        if path == "/sitemap.xml":
            return Response(302, [("Location", self._home + "/wp-sitemap.xml")])
        m = re.fullmatch(r"/wp-sitemap-(posts|taxonomies)-([\w-]+?)-(\d+)\.xml", path)
        if m:
            return self._sitemap_page(m.group(1), m.group(2), int(m.group(3)))
        if not pretty:
            return self._not_found()
        if path in ("/feed/", "/feed"):
            return self._feed(req_headers)
        slug_path = path.strip("/")
        if slug_path:
            post = self._find_by_path(slug_path)
            if post is not None:
                return self._post_page(post)
        return self._not_found()
