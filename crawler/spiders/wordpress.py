"""The Scrapy spider of a round: one Crawler, one round of one site.

`wpwatch crawl`, the one-machine daemon and ``scrapy crawl wordpress`` run a
round as this spider; the round itself (`crawler.rounds.SiteRound`: discovery,
a `TypeRound` per watched type, degraded mode) awaits its own requests through
the engine (`crawler.fetcher`: downloader middlewares such as robots.txt,
AutoThrottle and compression still apply), because each step decides what the
next one asks for. The spider reads only its `RoundState` (loaded by the
runner before the crawl) and writes nothing: every fact goes out as an item
(`crawler.items`) to the pipeline, the round's only writer, ending with a
`RoundEnd` that carries the round's verdict.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import scrapy

from core.values import normalize_site_url
from crawler.auth import basic_auth
from crawler.discovery import Discovered
from crawler.fetcher import Fetcher, FetchPolicy
from crawler.items import NOT_THE_SITE, RoundEnd
from crawler.rounds import DEFAULT_OVERLAP, SiteRound
from crawler.state import RoundState

logger = logging.getLogger(f"wpwatch.{__name__}")


class WordPressSpider(scrapy.Spider):
    name = "wordpress"
    round: SiteRound  # set in from_crawler (its fetcher needs the crawler)

    def __init__(
        self,
        state: RoundState | None = None,
        site_url: str | None = None,
        full: bool | str = False,
        types: list[str] | str | None = None,
        budget: float | str | None = None,
        overlap_seconds: int | str = int(DEFAULT_OVERLAP.total_seconds()),
        discover_only: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if state is None:  # `scrapy crawl wordpress -a site_url=…`: an empty memory
            if isinstance(types, str):
                types = [t.strip() for t in types.split(",") if t.strip()]
            state = RoundState(site_url=normalize_site_url(site_url or ""),
                               full=full in (True, "1", "true", "yes"), types=tuple(types or ()))
        self.state = state
        self.site_url = state.site_url
        self.budget = float(budget) if budget else None
        self.overlap = timedelta(seconds=int(overlap_seconds))
        self.discover_only = discover_only

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WordPressSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        creds = spider.state.credentials
        fetcher = Fetcher(crawler, spider.site_url, FetchPolicy.from_settings(s),
                          spider.budget, basic_auth(creds) if creds else None)
        spider.round = SiteRound(
            fetcher, spider.state, overlap=spider.overlap, discover_only=spider.discover_only,
            fallback_max_pages=s.getint("WPWATCH_FALLBACK_MAX_PAGES", 20),
            fallback_max_sitemaps=s.getint("WPWATCH_FALLBACK_MAX_SITEMAPS", 20))
        return spider

    @property
    def discovered(self) -> Discovered | None:
        """What a discover_only crawl found."""
        return self.round.discovered

    @property
    def failure(self) -> Exception | None:
        """Why the round stopped early (a discover_only crawl found nothing)."""
        return self.round.failure

    async def start(self) -> AsyncIterator[Any]:
        """The round's items; its `RoundEnd` comes last, from `_end`.

        The last thing start() yields is a request for an empty ``data:`` URL
        (no network) whose callback yields the `RoundEnd`. Scrapy then closes
        the spider as soon as that item is stored: items that come from a
        callback are tracked to the end, and the engine checks for idleness
        when the request is done (after a last item from start() itself it
        would notice only at its next 5-second heartbeat).
        """
        async for item in self.round.items():
            if isinstance(item, RoundEnd):
                self.crawler.stats.inc_value(NOT_THE_SITE)
                yield scrapy.Request("data:,", callback=self._end, dont_filter=True,
                                     cb_kwargs={"end": item})
            else:
                yield item

    def _end(self, response: Any, end: RoundEnd) -> Iterator[RoundEnd]:
        if not self.discover_only:
            yield end
