"""One polling round of one WordPress site: fetch, and yield what was learned.

The round is one coroutine (`start`) that awaits its own requests through
the engine (`crawler.fetcher`: downloader middlewares such as robots.txt,
AutoThrottle and compression still apply), because each step decides what
the next one asks for. It reads only its `RoundState` (loaded by the runner
before the crawl) and writes nothing: every fact goes out as an item
(`crawler.items`) to the pipeline, the round's only writer, ending with a
`RoundEnd` that carries the round's verdict.

Steps: discovery (`crawler.discovery`), one `TypeRound` per watched type
(`crawler.listing`), and degraded mode (`crawler.degraded`) when the REST
API is closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import scrapy

from core.exceptions import ConfigError, RestClosed, RoundError
from core.values import normalize_site_url
from crawler.auth import basic_auth, check_login
from crawler.degraded import DegradedRound, watched_bases
from crawler.discovery import Discovered, check_types, discover, select_types
from crawler.fetcher import Fetcher, FetchPolicy, RoundTimedOut
from crawler.items import NOT_THE_SITE, ApiRootFound, RoundEnd
from crawler.listing import TypeRound, with_state_on_last
from crawler.revisions import RevisionReader
from crawler.state import RoundState

logger = logging.getLogger(f"wpwatch.{__name__}")


class WordPressSpider(scrapy.Spider):
    name = "wordpress"
    fetcher: Fetcher  # set in from_crawler (it needs the crawler)
    fallback_max_pages: int = 20
    fallback_max_sitemaps: int = 20

    def __init__(
        self,
        state: RoundState | None = None,
        site_url: str | None = None,
        full: bool | str = False,
        types: list[str] | str | None = None,
        budget: float | str | None = None,
        overlap_seconds: int | str = 7200,
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
        # Two hours covers a DST fall-back and late-committing saves.
        self.overlap = timedelta(seconds=int(overlap_seconds))
        self.discover_only = discover_only
        self.discovered: Discovered | None = None  # what a discover_only crawl found
        self.failure: Exception | None = None  # why a discover_only crawl found nothing

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WordPressSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        creds = spider.state.credentials
        spider.fetcher = Fetcher(crawler, spider.site_url, FetchPolicy.from_settings(s),
                                 spider.budget, basic_auth(creds) if creds else None)
        spider.fallback_max_pages = s.getint("WPWATCH_FALLBACK_MAX_PAGES", 20)
        spider.fallback_max_sitemaps = s.getint("WPWATCH_FALLBACK_MAX_SITEMAPS", 20)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        """The round's items; its `RoundEnd` comes last, from `_end`.

        The last thing start() yields is a request for an empty ``data:`` URL
        (no network) whose callback yields the `RoundEnd`. Scrapy then closes
        the spider as soon as that item is stored: items that come from a
        callback are tracked to the end, and the engine checks for idleness
        when the request is done (after a last item from start() itself it
        would notice only at its next 5-second heartbeat).
        """
        self.fetcher.start_clock()
        problems: list[str] = []
        end: dict[str, Any] = {}
        try:
            async for item in self._round(problems, end):
                yield item
        except RoundTimedOut as exc:
            end["interrupted"] = str(exc)
            self.failure = exc
        except (RoundError, ConfigError) as exc:
            end["fatal"] = str(exc)
            self.failure = exc
            logger.info("%s: %s", self.site_url, exc)
        except Exception as exc:  # a bug or an answer nobody foresaw: this site's failure only
            logger.exception("%s: round failed", self.site_url)
            end["fatal"] = f"internal error ({type(exc).__name__}: {str(exc)[:200]})"
            self.failure = exc
        self.crawler.stats.inc_value(NOT_THE_SITE)
        yield scrapy.Request("data:,", callback=self._end, dont_filter=True,
                             cb_kwargs={"end": RoundEnd(errors=tuple(problems), **end)})

    def _end(self, response: Any, end: RoundEnd) -> Iterator[RoundEnd]:
        if not self.discover_only:
            yield end

    async def _round(self, problems: list[str], end: dict[str, Any]) -> AsyncIterator[Any]:
        state = self.state
        closed: dict[str, str] = {}  # type slug → REST base, for degraded mode
        reason: str | None = None
        types: list[Any] = []
        api_root = ""
        try:
            found = await discover(self.fetcher, state.api_root, problems)
        except RestClosed as exc:
            if self.discover_only:
                raise
            reason = exc.reason
            closed = watched_bases(state)
        else:
            if state.first_round or self.discover_only:
                check_types(found.types, state.types)
            self.discovered, api_root = found, found.api_root
            if self.discover_only:
                return
            if found.found_now:
                yield ApiRootFound(found.api_root)
            types = select_types(found.types, state.types)
        revisions = None
        if state.credentials is not None and types:
            await check_login(self.fetcher, api_root, state.credentials.username)
            revisions = RevisionReader(self.fetcher, api_root, state.revisions, problems)
        for ctype in types:
            st = state.type_state(ctype.rest_base)
            st.slug = ctype.slug
            round_ = TypeRound(self.fetcher, api_root, ctype, st,
                               state.known_posts(ctype.rest_base), full=state.full,
                               overlap=self.overlap, problems=problems, revisions=revisions)
            try:
                async for item in with_state_on_last(round_.run()):
                    yield item
            except RestClosed as exc:
                reason = reason or exc.reason
                closed[ctype.slug] = ctype.rest_base
        if reason is not None:
            degraded = DegradedRound(self.fetcher, state, closed,
                                     max_pages=self.fallback_max_pages,
                                     max_sitemaps=self.fallback_max_sitemaps)
            async for item in degraded.run(reason):
                yield item
            problems += degraded.problems
            end["degraded"] = f"REST API is closed ({reason}): watching the RSS feed and sitemap"
