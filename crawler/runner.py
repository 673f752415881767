"""Running rounds: one Scrapy crawler per site, several sites at once.

Scrapy runs on its asyncio reactor (`AsyncCrawlerRunner`), so the same
coroutine serves the one-shot CLI (`wpwatch crawl`) and a daemon that keeps
the loop alive between rounds (engineering-notes: flat memory, clean stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings
from scrapy.utils.log import configure_logging
from scrapy.utils.project import get_project_settings

from archive import Archive
from crawler.spiders.wordpress import WordPressSpider

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SiteSpec:
    url: str
    name: str | None = None
    types: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)


SETTINGS_ENV = "WPWATCH_SETTINGS"


def parse_setting_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``["NAME=VALUE", …]`` (as `wpwatch crawl -s NAME=VALUE` takes them) → a dict.

    Names are Scrapy settings, wpwatch's own included (WPWATCH_RETRY_BASE_DELAY,
    WPWATCH_RETRY_AFTER_CAP, WPWATCH_RETRY_TIMES, WPWATCH_ALLOW_OTHER_HOST,
    WPWATCH_FALLBACK_MAX_PAGES, DOWNLOAD_TIMEOUT, DOWNLOAD_MAXSIZE, …).
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise ValueError(f"a setting is NAME=VALUE with an upper-case NAME, not {pair!r}")
        out[name] = value.strip()
    return out


def crawler_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Project settings, then WPWATCH_SETTINGS from the environment, then `overrides`.

    WPWATCH_SETTINGS holds whitespace-separated NAME=VALUE pairs, e.g.
    ``WPWATCH_SETTINGS="DOWNLOAD_TIMEOUT=5 WPWATCH_RETRY_BASE_DELAY=0.1"``.
    """
    settings = get_project_settings()
    if not settings.get("BOT_NAME") or settings.get("BOT_NAME") == "scrapybot":
        settings.setmodule("crawler.settings", priority="project")
    from_env = parse_setting_overrides(os.environ.get(SETTINGS_ENV, "").split())
    for key, value in {**from_env, **(overrides or {})}.items():
        settings.set(key, value, priority="cmdline")
    return settings


class RoundRunner:
    """Runs rounds of sites on one AsyncCrawlerRunner; can stop them all.

    Each round gets its own Crawler (its own engine, stats and settings), so a
    slow or broken site holds nothing of another's. A round that exceeds its
    time budget is stopped: its spider closes with reason "shutdown" and the
    round is recorded as interrupted (a partial listing makes no verdicts).
    """

    def __init__(self, archive: Archive, settings: dict[str, Any] | None = None) -> None:
        self.archive = archive
        self.runner = AsyncCrawlerRunner(crawler_settings(settings))
        self.active: dict[str, Crawler] = {}

    async def run_site(
        self, spec: SiteSpec, *, full: bool = False, budget: float | None = None
    ) -> dict[str, Any]:
        """One round of one site; its record (outcome, counts, requests, error)."""
        crawler = self.runner.create_crawler(WordPressSpider)
        if spec.settings:
            crawler.settings.frozen = False
            crawler.settings.update(spec.settings, priority="spider")
        self.active[spec.url] = crawler
        task = asyncio.ensure_future(
            self.runner.crawl(
                crawler,
                site_url=spec.url,
                archive=self.archive,
                full=full,
                site_name=spec.name,
                types=list(spec.types) or None,
            )
        )
        try:
            if budget is None:
                await task
            else:
                try:
                    await asyncio.wait_for(asyncio.shield(task), budget)
                except TimeoutError:
                    logger.warning("%s: round exceeded its %.0f s budget: stopping it", spec.url, budget)
                    await self.stop_crawler(crawler, task)
        except Exception as exc:  # a crash inside one site's crawl is that site's failure
            logger.exception("%s: round crashed", spec.url)
            return _failed(spec, f"crashed: {exc}")
        finally:
            self.active.pop(spec.url, None)
        spider = crawler.spider
        if spider is None or spider.round_id is None:
            return _failed(spec, "round did not start")
        return self.archive.round(spider.round_id) | {"site": spider.site_url}

    async def stop_crawler(
        self, crawler: Crawler, task: asyncio.Future[Any] | None = None, grace: float = 10.0
    ) -> None:
        """Stop one crawl (requests in flight are bounded by `grace`), then wait for it."""
        if crawler.crawling:
            try:
                await asyncio.wait_for(crawler.stop_async(), grace)
            except TimeoutError:
                logger.error("a crawler did not stop within %.0f s", grace)
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), grace)

    async def stop_all(self, grace: float = 10.0) -> None:
        """Stop every running round (SIGTERM after the daemon's grace)."""
        await asyncio.gather(
            *(self.stop_crawler(c, grace=grace) for c in list(self.active.values()))
        )


def _failed(spec: SiteSpec, error: str) -> dict[str, Any]:
    return {"site": spec.url, "outcome": "failed", "error": error, "counts": {}, "requests": 0,
            "bytes": 0}


async def run_rounds(
    archive: Archive,
    sites: Iterable[SiteSpec],
    *,
    full: bool = False,
    concurrency: int = 8,
    settings: dict[str, Any] | None = None,
    on_done: Callable[[SiteSpec, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One round for each site; returns each round's record (outcome, counts, error).

    A failing site is data, not an exception: its round says why, the others run.
    """
    rr = RoundRunner(archive, settings)
    sem = asyncio.Semaphore(concurrency)

    async def one(spec: SiteSpec) -> dict[str, Any]:
        async with sem:
            record = await rr.run_site(spec, full=full)
            if on_done:
                on_done(spec, record)
            return record

    return list(await asyncio.gather(*(one(s) for s in sites)))


def quiet_scrapy_logs(verbose: bool) -> None:
    """Scrapy's chatter at WARNING unless verbose; our own handler stays in charge.

    `configure_logging` resets the root level, so it is set again after it. The
    robots.txt middleware logs a traceback for an unreachable site, which the
    round already reports in one line.
    """
    configure_logging(
        {"LOG_LEVEL": "DEBUG" if verbose else "WARNING", "LOG_INSTALL_ROOT_HANDLER": False}
    )
    logging.root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        for name in ("scrapy", "twisted", "py.warnings"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
        # size-cap, decompression and redirect notices: the round reports them in one line
        for name in ("scrapy.core.downloader", "scrapy.downloadermiddlewares.httpcompression",
                     "scrapy.downloadermiddlewares.redirect", "scrapy.core.scraper"):
            logging.getLogger(name).setLevel(logging.ERROR)
        logging.getLogger("crawler.spiders.wordpress").setLevel(logging.ERROR)


def run_sync(make: Callable[[], Awaitable[T]], *, verbose: bool = False) -> T:
    """Run a coroutine on Scrapy's asyncio reactor and return its result (CLI use)."""
    quiet_scrapy_logs(verbose)
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor

    result: dict[str, Any] = {}

    def done(value: Any) -> None:
        result["value"] = value
        reactor.stop()  # type: ignore[attr-defined]

    def go() -> None:
        d = defer.Deferred.fromFuture(asyncio.ensure_future(make()))
        d.addBoth(done)

    reactor.callWhenRunning(go)  # type: ignore[attr-defined]
    reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
    value = result.get("value")
    if hasattr(value, "raiseException"):  # a twisted Failure
        value.raiseException()
    return value  # type: ignore[return-value]
