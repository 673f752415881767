"""One long-lived Scrapy crawler that runs rounds of many sites, for a node.

A Crawler per round (`crawler.spiders.wordpress`) pays for its settings copy,
engine, downloader and middleware managers every round: about a fifth of a
quiet round's CPU. A node runs rounds all day, so it keeps one crawler open
(`CrawlerHost`) whose spider never closes by itself, and runs each round as a
coroutine on it: the same `SiteRound` sends its requests through the same
engine and downloader middlewares (robots.txt, AutoThrottle, compression, the
size cap), and the same `RoundWriter` stores what it yields, item by item.

Per round, not per crawler: the round's time budget (the `Fetcher`'s deadline
and each request's download timeout), a site's own settings
(WPWATCH_ALLOW_OTHER_HOST, WPWATCH_IGNORE), and the round's request and byte
counts (`crawler.middlewares.RoundTally`). Per site, across rounds: the site's types listing
(`crawler.memories.KeptTypeLists`). Per host, across rounds: AutoThrottle's
delay per host, robots.txt rules, read again once they are an hour old
(`crawler.middlewares.FreshRobotsTxt`), and idle connections, kept only briefly
(`BriefKeepAlive`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import BaseSettings, Settings

from archive import Archive
from core.exceptions import WPWatchError
from crawler.auth import basic_auth
from crawler.fetcher import Fetcher, FetchPolicy
from crawler.memories import KeptTypeLists
from crawler.middlewares import Tally
from crawler.pipelines import RoundWriter
from crawler.rounds import SiteRound
from crawler.state import RoundState

if TYPE_CHECKING:
    from crawler.runner import SiteSpec

logger = logging.getLogger(f"wpwatch.{__name__}")


#: How the host's downloader middlewares differ from a Crawler per round's: each round
#: counts its own requests (`RoundTally`, where Scrapy's crawler-wide download stats
#: were); no allowed_domains to keep to; no spider-wide HTTP auth (an own site's login
#: is sent by the Fetcher).
HOST_MIDDLEWARES = {
    "crawler.middlewares.RoundTally": 850,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
}


class BriefKeepAlive(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler whose idle connections close after
    WPWATCH_IDLE_CONNECTION_TIMEOUT seconds (Twisted keeps them 240 s).

    A round's requests reuse a connection within the round; the site's next round
    comes an interval later. A crawler that lives for weeks and polls thousands of
    sites would otherwise hold an open socket to every site polled in the last four
    minutes, and run out of file descriptors.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool.cachedConnectionTimeout = crawler.settings.getint(
            "WPWATCH_IDLE_CONNECTION_TIMEOUT", 15)


class HostSpider(scrapy.Spider):
    """A spider with no requests of its own that stays open until its crawler stops."""

    name = "wordpress-host"

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> HostSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.stay_open, signal=signals.spider_idle)
        return spider

    async def start(self) -> Any:
        for _ in ():  # rounds come from CrawlerHost.run_round, not from here
            yield _

    def stay_open(self) -> None:
        raise DontCloseSpider


async def stop_crawl(crawler: Crawler, crawl: asyncio.Future[Any] | None,
                     grace: float) -> None:
    """Stop a crawler (requests in flight are bounded by `grace`), then wait for its crawl."""
    if crawler.crawling:
        try:
            await asyncio.wait_for(crawler.stop_async(), grace)
        except TimeoutError:
            logger.error("a crawler did not stop within %.0f s", grace)
    if crawl is not None:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(crawl), grace)


class CrawlerHost:
    """One crawler, opened once, that runs rounds of any site until it is closed."""

    def __init__(self, archive: Archive, settings: Settings) -> None:
        self.archive = archive
        self.settings = settings
        self.crawler: Crawler | None = None
        self._crawl: asyncio.Future[Any] | None = None
        self._opening = asyncio.Lock()
        self.policy = FetchPolicy()
        self.type_lists = KeptTypeLists(settings.getfloat("WPWATCH_TYPES_MAX_AGE", 900.0),
                                        settings.getint("WPWATCH_KEPT_TYPE_LISTS", 100_000))

    async def ensure_open(self) -> None:
        """Open the crawler on first use, and again if its crawl ended under it (a bug)."""
        async with self._opening:
            if self.running:
                return
            if self.crawler is not None:
                logger.error("the node's crawler stopped unexpectedly: starting another")
                await self.close()
            await self.open()

    async def open(self) -> None:
        """Start the crawler and wait until its spider is open."""
        runner = AsyncCrawlerRunner(self.settings)
        crawler = runner.create_crawler(HostSpider)
        crawler.settings.frozen = False  # a copy of the runner's, not frozen yet in use
        crawler.settings.set("ITEM_PIPELINES", {}, priority="spider")  # a RoundWriter per round
        middlewares = {**crawler.settings.getdict("DOWNLOADER_MIDDLEWARES"), **HOST_MIDDLEWARES}
        crawler.settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")
        handler = f"{BriefKeepAlive.__module__}.{BriefKeepAlive.__qualname__}"
        crawler.settings.set("DOWNLOAD_HANDLERS", {
            **crawler.settings.getdict("DOWNLOAD_HANDLERS"), "http": handler, "https": handler},
            priority="spider")
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def spider_opened() -> None:
            if not opened.done():
                opened.set_result(None)

        crawler.signals.connect(spider_opened, signal=signals.spider_opened, weak=False)
        self._crawl = asyncio.ensure_future(runner.crawl(crawler))
        await asyncio.wait([opened, self._crawl], return_when=asyncio.FIRST_COMPLETED)
        if not opened.done():
            self._crawl.result()  # raises why the crawler did not start
            raise WPWatchError("the node's crawler ended before its spider opened")
        self.crawler = crawler
        self.policy = FetchPolicy.from_settings(crawler.settings)

    @property
    def running(self) -> bool:
        """Whether the crawler is open and its crawl has not ended (by a bug, say)."""
        return self.crawler is not None and self._crawl is not None and not self._crawl.done()

    async def close(self, grace: float = 10.0) -> None:
        """Stop the crawler (rounds still running are cancelled by their callers first)."""
        crawler, self.crawler = self.crawler, None
        if crawler is not None:
            await stop_crawl(crawler, self._crawl, grace)

    def _policy(self, spec: SiteSpec, budget: float | None) -> FetchPolicy:
        own = BaseSettings(spec.settings)
        policy = dataclasses.replace(self.policy, allow_other_host=own.getbool(
            "WPWATCH_ALLOW_OTHER_HOST", self.policy.allow_other_host))
        if budget:  # robots.txt and every request end within the budget
            policy = dataclasses.replace(
                policy, download_timeout=min(policy.download_timeout, budget))
        return policy

    def writer(self, spec: SiteSpec, state: RoundState) -> RoundWriter:
        """The writer of one round of the site (its round id and counts, once opened)."""
        return RoundWriter(self.archive, spec.url, spec.name, full=state.full,
                           ignore=spec.settings.get("WPWATCH_IGNORE"),
                           type_states=state.type_states)

    async def run_round(self, spec: SiteSpec, state: RoundState, budget: float | None,
                        writer: RoundWriter) -> None:
        """One round of one site, stored by `writer` (its round opened by the caller,
        `Archive.begin_round`).

        Cancelled (its budget or the node's grace ran out), the round is
        recorded interrupted.
        """
        crawler = self.crawler
        if crawler is None:
            raise WPWatchError("the node's crawler is not open")
        creds = state.credentials
        tally = Tally()
        fetcher = Fetcher(crawler, spec.url, self._policy(spec, budget), budget,
                          basic_auth(creds) if creds else None, tally=tally)
        settings = crawler.settings
        round_ = SiteRound(
            fetcher, state,
            fallback_max_pages=settings.getint("WPWATCH_FALLBACK_MAX_PAGES", 20),
            fallback_max_sitemaps=settings.getint("WPWATCH_FALLBACK_MAX_SITEMAPS", 20),
            kept_types=self.type_lists.get(spec.url))
        try:
            async with contextlib.aclosing(round_.items()) as items:
                async for item in items:
                    writer.store(item)
        finally:
            writer.finish(requests=tally.requests, bytes_=tally.bytes)
            if round_.discovered is not None:
                self.type_lists.keep(spec.url, round_.discovered)
            elif round_.types_doubted:
                self.type_lists.forget(spec.url)
