"""Degraded mode: a round over the RSS feed and the sitemaps when the REST API is closed.

When a plugin (401 ``rest_cannot_access``, ``itsec_rest_api_access_restricted``),
a removed route (404 ``rest_no_route``) or a web server (an HTML 403) closes
the REST API, new posts still show in the RSS feed and the core sitemaps.
Nothing is ever judged gone from them (docs/wordpress-rest.md §10, §11). The
round's `RoundEnd` says the site is degraded and why; `wpwatch status` shows it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import Response

from core.exceptions import FallbackError, RoundError
from crawler import fallback
from crawler.fetcher import Fetcher, RoundTimedOut, link_headers, raw, status_words
from crawler.items import FallbackFetched, FallbackSeen
from crawler.state import RoundState

logger = logging.getLogger(f"wpwatch.{__name__}")

# The default REST bases of the two core types, for a site whose types we never read.
CORE_BASES = {"post": "posts", "page": "pages"}


def watched_bases(state: RoundState) -> dict[str, str]:
    """Type slug → REST base of the types to watch when the API cannot tell us."""
    bases = {st.slug: st.type for st in state.type_states.values() if st.slug}
    bases = bases or dict(CORE_BASES)
    return {k: v for k, v in bases.items() if state.wants(v, k)}


class DegradedRound:
    """New posts from the RSS feed and the core sitemaps; never a verdict on removals.

    A feed item names its post id (``?p=ID`` guid). A sitemap URL that the
    archive does not know and degraded mode has not seen before is looked up
    on its page (shortlink, REST alternate link), at most
    WPWATCH_FALLBACK_MAX_PAGES a round; the rest wait for the next round. The
    first degraded round of a site the archive knows nothing of is a baseline.
    """

    def __init__(self, fetcher: Fetcher, state: RoundState, bases: Mapping[str, str], *,
                 max_pages: int, max_sitemaps: int) -> None:
        self.fetcher = fetcher
        self.state = state
        self.bases = dict(bases)
        self.max_pages = max_pages
        self.max_sitemaps = max_sitemaps
        self.problems: list[str] = []

    async def run(self, reason: str) -> AsyncIterator[Any]:
        """The round's items; RoundError when neither feed nor sitemap can be read."""
        site_url = self.fetcher.site_url
        known = dict(self.state.links)
        known_links = {link for link in known.values() if link}
        seen = self.state.fallback_seen
        baseline = not known and not seen
        shown: list[str] = []
        sources = 0
        post_base = self.bases.get("post")

        feed = await self._read_feed()
        if feed is not None:
            sources += 1
            resp, items = feed
            records = []
            for it in items:
                if it.link:
                    shown.append(it.link)
                if it.wp_id is None or post_base is None or (post_base, it.wp_id) in known:
                    continue
                records.append(fallback.record_from_feed(it))
                known[(post_base, it.wp_id)] = it.link
                if it.link:
                    known_links.add(it.link)
            if records:
                yield FallbackFetched(post_base, raw(resp), records, baseline)  # type: ignore[arg-type]

        listed = await self._read_sitemaps()
        if listed is not None:
            sources += 1
            shown += [url for _, url in listed]
        if baseline:
            yield FallbackSeen(tuple(dict.fromkeys(shown)))
        else:
            host = urlsplit(site_url).hostname
            types_of = {url: slug for slug, url in (listed or [])}
            candidates = [
                url for url in dict.fromkeys(shown)
                if url not in known_links and url not in seen and urlsplit(url).hostname == host
            ]
            probed: list[str] = []
            for url in candidates[: self.max_pages]:
                try:
                    resp = await self.fetcher.get(url)
                except RoundTimedOut:
                    raise
                except RoundError as exc:
                    self.problems.append(f"{url}: {exc}")
                    continue
                probed.append(url)
                if resp.status != 200:
                    continue
                ident = fallback.page_identity(resp.url, link_headers(resp), resp.body)
                if ident is None:
                    continue
                base = ident.rest_base or self.bases.get(
                    ident.type_slug or types_of.get(url) or "")
                if base is None or base not in self.bases.values() or (base, ident.wp_id) in known:
                    continue
                known[(base, ident.wp_id)] = url
                yield FallbackFetched(base, raw(resp),
                                      [fallback.record_from_page(ident, url)])
            if len(candidates) > len(probed):
                logger.info("%s: %d new URLs in the sitemaps wait for the next round",
                            site_url, len(candidates) - len(probed))
            if probed:
                yield FallbackSeen(tuple(probed))
        if sources == 0:
            raise RoundError(
                f"the REST API is closed ({reason}), and the RSS feed and sitemap could not "
                f"be read either: {'; '.join(self.problems[:3])}"
            )

    async def _fetch(self, what: str, url: str) -> Response | None:
        """A feed or sitemap answering 200, or None with the reason kept."""
        try:
            resp = await self.fetcher.get(url)
        except RoundTimedOut:
            raise
        except RoundError as exc:
            self.problems.append(f"{what}: {exc}")
            return None
        if resp.status != 200:
            self.problems.append(f"{what} {url} answered {status_words(resp.status)}")
            return None
        return resp

    async def _read_feed(self) -> tuple[Response, list[fallback.FeedItem]] | None:
        for url in fallback.feed_urls(self.fetcher.site_url):
            resp = await self._fetch("feed", url)
            if resp is None:
                continue
            try:
                return resp, fallback.parse_feed(resp.body)
            except FallbackError as exc:
                self.problems.append(f"feed {url}: {exc}")
        return None

    async def _read_sitemaps(self) -> list[tuple[str | None, str]] | None:
        """(type slug, URL) of every post the core sitemaps list, or None if unreadable."""
        host = urlsplit(self.fetcher.site_url).hostname
        for url in fallback.sitemap_urls(self.fetcher.site_url):
            resp = await self._fetch("sitemap", url)
            if resp is None:
                continue
            try:
                subs, urls = fallback.parse_sitemap(resp.body)
            except FallbackError as exc:
                self.problems.append(f"sitemap {url}: {exc}")
                continue
            out: list[tuple[str | None, str]] = [(None, u) for u in urls]
            subs = [u for u in subs if urlsplit(u).hostname == host]
            subs = [u for u in subs if fallback.sitemap_type(u) in (None, *self.bases)]
            for sub in subs[: self.max_sitemaps]:
                try:
                    page = await self.fetcher.get(sub)
                    if page.status != 200:
                        raise FallbackError(f"{sub} answered {status_words(page.status)}")
                    out += [(fallback.sitemap_type(sub), u)
                            for u in fallback.parse_sitemap(page.body)[1]]
                except RoundTimedOut:
                    raise
                except RoundError as exc:
                    self.problems.append(f"sitemap: {exc}")
            return out
        return None
