"""Running rounds: one Scrapy crawler per site, several sites at once.

Scrapy runs on its asyncio reactor (`AsyncCrawlerRunner`), so the same
coroutine serves the one-shot CLI (`wpwatch crawl`) and a daemon that keeps
the loop alive between rounds (flat memory, clean stop). The runner reads a
site's `RoundState` from the archive before its round; the crawl's pipeline
is the only thing that writes.

Also here: `ProgressLine` (progress of long walks, for the CLI to pass in)
and `check_site` (discovery alone: the public types of a site, for `sites add`).
"""

from __future__ import annotations

import asyncio
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

from archive import Archive, SiteMemory
from archive.cluster import RoundStart
from core.config import Credentials, SiteConfig
from crawler.host import CrawlerHost, stop_crawl
from crawler.memories import KeptMemories
from crawler.pipelines import ARCHIVED, ROUND_ID, posts_stored
from crawler.progress import Progress, ProgressLine
from crawler.spiders.wordpress import WordPressSpider
from crawler.state import RoundState
from crawler.wpapi import ContentType

logger = logging.getLogger(f"wpwatch.{__name__}")
T = TypeVar("T")


@dataclass(frozen=True)
class SiteSpec:
    url: str
    name: str | None = None
    types: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    round_timeout: float | None = None  # seconds; None: the caller's default
    credentials: Credentials | None = field(default=None, repr=False)  # an own site's login

    @classmethod
    def of(cls, site: SiteConfig) -> SiteSpec:
        """A configured site as the crawler's unit of work (its ``env:`` login read now)."""
        settings: dict[str, Any] = {}
        if site.allow_other_host:
            settings["WPWATCH_ALLOW_OTHER_HOST"] = True
        if site.ignore:
            settings["WPWATCH_IGNORE"] = site.ignore
        return cls(url=site.url, name=site.name, types=site.types, settings=settings,
                   round_timeout=site.round_timeout, credentials=site.credentials())


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


#: A round's time budget in `wpwatch crawl` when the site sets no round_timeout.
DEFAULT_ROUND_TIMEOUT = 120.0
#: The same for a round that reads every post (a site's first round, or --full): a large
#: site needs minutes for that, and a baseline cut short would start over every time.
DEFAULT_FULL_ROUND_TIMEOUT = 1800.0
#: How long after its budget a round that did not end by itself is stopped.
STOP_GRACE = 15.0


def load_round_state(archive: Archive, spec: SiteSpec, *, full: bool = False) -> RoundState:
    """The site's memory for one round, read (never written) from the archive."""
    return round_state(archive, spec, archive.round_memory(spec.url), full=full)


def round_state(archive: Archive, spec: SiteSpec, memory: SiteMemory | None, *,
                full: bool = False) -> RoundState:
    """What a round of the site starts from: the site's memory and its configuration."""
    if memory is None:
        return RoundState(site_url=spec.url, site_name=spec.name, full=full, types=spec.types,
                          credentials=spec.credentials)
    return RoundState(
        site_url=spec.url,
        site_name=spec.name,
        full=full,
        types=spec.types,
        api_root=memory.site.get("api_root"),
        type_states=memory.type_states,
        known=memory.known,
        links=memory.links,
        fallback_seen=memory.fallback_seen,
        credentials=spec.credentials,
        revisions=archive.known_revisions(memory.site["id"]) if spec.credentials else {},
    )


def default_budget(state: RoundState) -> float:
    """A round's budget when none is set: longer for one that reads every post."""
    return DEFAULT_FULL_ROUND_TIMEOUT if state.reads_everything else DEFAULT_ROUND_TIMEOUT


class RoundRunner:
    """Runs rounds of sites on one AsyncCrawlerRunner; can stop them all.

    Each round gets its own Crawler (its own engine, stats and settings), so a
    slow or broken site holds nothing of another's; with ``long_lived`` (a node,
    which runs rounds all day) every round runs on one crawler kept open instead
    (`crawler.host.CrawlerHost`; `close` stops it). A round has a time budget:
    the spider stops asking at its deadline and records the round as
    interrupted (a partial listing makes no verdicts); a round still running
    `STOP_GRACE` seconds later is stopped from here.
    """

    def __init__(self, archive: Archive, settings: dict[str, Any] | None = None,
                 progress: Progress | None = None, *, long_lived: bool = False) -> None:
        self.archive = archive
        self.runner = AsyncCrawlerRunner(crawler_settings(settings))
        self.progress = progress
        self.active: dict[str, Crawler] = {}
        self.host = CrawlerHost(archive, self.runner.settings) if long_lived else None
        # a node's rounds start from the site memories kept from earlier rounds
        self.memories = KeptMemories(self.runner.settings.getint(
            "WPWATCH_KEPT_MEMORY_POSTS")) if long_lived else None
        self.hosted: dict[str, asyncio.Task[Any]] = {}  # site URL → its round on the host

    async def run_site(
        self, spec: SiteSpec, *, full: bool = False, budget: float | None = None,
        start: RoundStart | None = None,
    ) -> dict[str, Any]:
        """One round of one site; its record (outcome, counts, requests, error).

        Without a `budget`, a round that reads every post gets
        DEFAULT_FULL_ROUND_TIMEOUT and any other DEFAULT_ROUND_TIMEOUT.
        """
        if self.host is not None:
            return await self._hosted_round(self.host, spec, full, budget, start)
        if start is not None:
            raise ValueError("a node's round start is recorded only on its long-lived crawler")
        state = load_round_state(self.archive, spec, full=full)
        budget = budget if budget is not None else default_budget(state)
        crawler = self.runner.create_crawler(WordPressSpider)
        crawler.settings.frozen = False
        crawler.settings.update(spec.settings, priority="spider")
        crawler.settings.set("WPWATCH_ARCHIVE", self.archive, priority="spider")
        if budget:  # robots.txt and every request end within the budget
            timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)
            crawler.settings.set("DOWNLOAD_TIMEOUT", min(timeout, budget), priority="spider")
        if self.progress is not None:
            crawler.signals.connect(self.progress.posts_stored, signal=posts_stored, weak=False)
        self.active[spec.url] = crawler
        task = asyncio.ensure_future(self.runner.crawl(crawler, state=state, budget=budget))
        try:
            if budget is None:
                await task
            else:
                try:
                    await asyncio.wait_for(asyncio.shield(task), budget + STOP_GRACE)
                except TimeoutError:
                    logger.warning("%s: round still running %.0f s after its budget: stopping it",
                                   spec.url, STOP_GRACE)
                    await stop_crawl(crawler, task, grace=10.0)
        except Exception as exc:  # a crash inside one site's crawl is that site's failure
            logger.exception("%s: round crashed", spec.url)
            return _failed(spec, f"crashed: {exc}")
        finally:
            self.active.pop(spec.url, None)
            if self.progress is not None:
                self.progress.round_done(spec.url)
        stats = crawler.stats.get_stats()
        round_id = stats.get(ROUND_ID)
        if round_id is None:
            return _failed(spec, "round did not start")
        archived = {k[len(ARCHIVED):]: v for k, v in stats.items() if k.startswith(ARCHIVED)}
        return self.archive.round(round_id) | {"site": spec.url, "archived": archived}

    async def _hosted_round(self, host: CrawlerHost, spec: SiteSpec, full: bool,
                            budget: float | None, start: RoundStart | None) -> dict[str, Any]:
        """A round on the long-lived crawler, opened in one transaction with the site's
        memory (the one kept from an earlier round while current), its health and the
        node's `start` record. The record says the health (``health_before``)."""
        assert self.memories is not None
        await host.ensure_open()
        begun = self.archive.begin_round(spec.url, spec.name, full,
                                         self.memories.get(spec.url), start)
        self.memories.keep(spec.url, begun.memory)
        state = round_state(self.archive, spec, begun.memory, full=full)
        budget = budget if budget is not None else default_budget(state)
        writer = host.writer(spec, state)
        writer.opened(begun.site_id, begun.round_id)
        task = asyncio.ensure_future(host.run_round(spec, state, budget, writer))
        self.hosted[spec.url] = task
        try:
            done, _ = await asyncio.wait([task], timeout=budget + STOP_GRACE)
            if not done:
                logger.warning("%s: round still running %.0f s after its budget: stopping it",
                               spec.url, STOP_GRACE)
                task.cancel()  # its writer records it interrupted
                await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self.hosted.pop(spec.url, None)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            logger.error("%s: round crashed", spec.url, exc_info=exc)
            return _failed(spec, f"crashed: {exc}")
        if writer.round_id is None:
            return _failed(spec, "round did not start")
        record = writer.record or self.archive.round(writer.round_id)
        return record | {"site": spec.url, "archived": writer.archived,
                         "health_before": begun.health}

    async def close(self) -> None:
        """Stop the long-lived crawler, if any (after `stop_all`)."""
        if self.host is not None:
            await self.host.close()

    async def stop_all(self, grace: float = 10.0) -> None:
        """Stop every running round (SIGTERM after the daemon's grace)."""
        hosted = list(self.hosted.values())
        for task in hosted:
            task.cancel()  # recorded interrupted by its writer
        await asyncio.gather(
            *(stop_crawl(c, None, grace) for c in list(self.active.values())),
            *(asyncio.wait([t], timeout=grace) for t in hosted),
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
    round_timeout: float | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One round for each site; returns each round's record (outcome, counts, error).

    A failing site is data, not an exception: its round says why, the others run.
    Each round's budget: `round_timeout`, else the site's own, else
    DEFAULT_ROUND_TIMEOUT (DEFAULT_FULL_ROUND_TIMEOUT for a first or --full round).
    """
    rr = RoundRunner(archive, settings, progress)
    sem = asyncio.Semaphore(concurrency)

    async def one(spec: SiteSpec) -> dict[str, Any]:
        async with sem:
            budget = round_timeout or spec.round_timeout
            record = await rr.run_site(spec, full=full, budget=budget)
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
        logging.getLogger("wpwatch.crawler").setLevel(logging.ERROR)


def run_sync(make: Callable[[], Awaitable[T]], *, verbose: bool = False) -> T:
    """Run a coroutine on Scrapy's asyncio reactor and return its result (CLI use)."""
    quiet_scrapy_logs(verbose)
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer
    from twisted.internet import reactor as installed
    from twisted.python.failure import Failure

    reactor: Any = installed  # the AsyncioSelectorReactor just installed; the attribute is untyped
    result: dict[str, Any] = {}

    def done(value: Any) -> None:
        result["value"] = value
        reactor.stop()

    def go() -> None:
        d = defer.Deferred.fromFuture(asyncio.ensure_future(make()))
        d.addBoth(done)

    reactor.callWhenRunning(go)
    reactor.run(installSignalHandlers=False)
    value: Any = result.get("value")
    if isinstance(value, Failure):
        value.raiseException()
    return value


async def discover_site(
    site_url: str, types: Iterable[str] = (), *, settings: dict[str, Any] | None = None,
    budget: float = DEFAULT_ROUND_TIMEOUT,
) -> list[ContentType]:
    """The public REST types of a site, found as a first round would find them.

    Raises what the round would fail with: Unreachable, HTTPFault,
    NotWordPress, RestClosed, WPApiError, and ConfigError when `types` names
    a type the site does not expose. Writes nothing.
    """
    runner = AsyncCrawlerRunner(crawler_settings({**(settings or {}), "ITEM_PIPELINES": {}}))
    crawler = runner.create_crawler(WordPressSpider)
    state = RoundState(site_url=site_url, types=tuple(types))
    await runner.crawl(crawler, state=state, budget=budget, discover_only=True)
    spider = crawler.spider
    if not isinstance(spider, WordPressSpider):
        raise TypeError(f"{site_url}: discovery did not start a WordPressSpider")
    if spider.failure is not None:
        raise spider.failure
    if spider.discovered is None:
        raise RuntimeError(f"{site_url}: discovery ended without an answer")
    return spider.discovered.types


def check_site(site_url: str, types: Iterable[str] = (), *, verbose: bool = False,
               settings: dict[str, Any] | None = None) -> list[ContentType]:
    """`discover_site` for a one-shot command (runs the reactor; once per process)."""
    wanted = tuple(types)
    return run_sync(lambda: discover_site(site_url, wanted, settings=settings), verbose=verbose)


__all__ = [
    "DEFAULT_FULL_ROUND_TIMEOUT",
    "DEFAULT_ROUND_TIMEOUT",
    "Progress",
    "ProgressLine",
    "RoundRunner",
    "SiteSpec",
    "check_site",
    "discover_site",
    "load_round_state",
    "run_rounds",
    "run_sync",
]
