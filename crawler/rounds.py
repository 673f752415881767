"""One polling round of one site, as a stream of items: what both ways of crawling run.

`SiteRound.items()` fetches through a `Fetcher` and yields what it learned,
ending with exactly one `RoundEnd` (the verdict). It reads only its
`RoundState` and writes nothing. Two things drive it: the Scrapy spider
(`crawler.spiders.wordpress`, a Crawler per round: `wpwatch crawl`, the daemon,
`scrapy crawl`) and the long-lived crawler of a node (`crawler.host`).

Steps: discovery (`crawler.discovery`), one `TypeRound` per watched type
(`crawler.listing`), and degraded mode (`crawler.degraded`) when the REST
API is closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import timedelta
from typing import Any

from core.exceptions import ConfigError, RestClosed, RoundError
from crawler.auth import check_login
from crawler.degraded import DegradedRound, watched_bases
from crawler.discovery import Discovered, check_types, discover, select_types
from crawler.fetcher import Fetcher, RoundTimedOut
from crawler.items import ApiRootFound, RoundEnd
from crawler.listing import TypeRound, TypesListingDoubted, with_state_on_last
from crawler.revisions import RevisionReader
from crawler.state import RoundState

logger = logging.getLogger(f"wpwatch.{__name__}")

#: How far back of its watermark a round asks again: two hours covers a DST
#: fall-back and saves that commit late.
DEFAULT_OVERLAP = timedelta(hours=2)


class SiteRound:
    """One round of one site: `items()` yields its items, then its `RoundEnd`."""

    def __init__(self, fetcher: Fetcher, state: RoundState, *,
                 overlap: timedelta = DEFAULT_OVERLAP, fallback_max_pages: int = 20,
                 fallback_max_sitemaps: int = 20, discover_only: bool = False,
                 kept_types: Discovered | None = None) -> None:
        self.fetcher = fetcher
        self.state = state
        self.site_url = state.site_url
        self.overlap = overlap
        self.fallback_max_pages = fallback_max_pages
        self.fallback_max_sitemaps = fallback_max_sitemaps
        self.discover_only = discover_only
        #: a types listing (with its API root) read by an earlier round, used instead of
        #: reading it now while every listing answers (see `TypesListingDoubted`)
        self.kept_types = kept_types
        self.discovered: Discovered | None = None  # the types listing this round read
        self.types_doubted = False  # the kept listing was doubted, and read again
        self.failure: Exception | None = None  # why the round stopped early

    async def items(self) -> AsyncGenerator[Any, None]:
        """The round's items; a `RoundEnd` always comes last, whatever went wrong."""
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
        yield RoundEnd(errors=tuple(problems), **end)

    async def _round(self, problems: list[str], end: dict[str, Any]) -> AsyncIterator[Any]:
        done: set[str] = set()  # REST bases whose round ended
        kept = self.kept_types
        if kept is not None and not self.state.full and not self.discover_only \
                and kept.api_root == self.state.api_root:
            try:
                async for item in self._typed_round(kept, problems, end, done):
                    yield item
                return
            except TypesListingDoubted as exc:
                logger.info("%s: %s on a kept types listing: reading it again",
                            self.site_url, exc)
                self.types_doubted = True
        async for item in self._typed_round(None, problems, end, done):
            yield item

    async def _typed_round(self, kept: Discovered | None, problems: list[str],
                           end: dict[str, Any], done: set[str]) -> AsyncIterator[Any]:
        """The round on the ``kept`` types listing, or on one read now; the types in
        ``done`` are not run again (a round that doubted its kept listing goes on)."""
        state = self.state
        closed: dict[str, str] = {}  # type slug → REST base, for degraded mode
        reason: str | None = None
        types: list[Any] = []
        api_root = ""
        try:
            found = kept or await discover(self.fetcher, state.api_root, problems)
        except RestClosed as exc:
            if self.discover_only:
                raise
            reason = exc.reason
            closed = watched_bases(state)
        else:
            if state.first_round or self.discover_only:
                check_types(found.types, state.types)
            api_root = found.api_root
            if kept is None:
                self.discovered = found
            if self.discover_only:
                return
            if found.found_now:
                yield ApiRootFound(found.api_root)
            types = select_types(found.types, state.types)
        revisions = None
        if state.credentials is not None and types:
            await check_login(self.fetcher, api_root, state.credentials.username)
            revisions = RevisionReader(self.fetcher, api_root, state.revisions, problems)
        for ctype in (t for t in types if t.rest_base not in done):
            st = state.type_state(ctype.rest_base)
            st.slug = ctype.slug
            round_ = TypeRound(self.fetcher, api_root, ctype, st,
                               state.known_posts(ctype.rest_base), full=state.full,
                               overlap=self.overlap, problems=problems, revisions=revisions,
                               kept_listing=kept is not None)
            try:
                async for item in with_state_on_last(round_.run()):
                    yield item
            except RestClosed as exc:
                reason = reason or exc.reason
                closed[ctype.slug] = ctype.rest_base
            done.add(ctype.rest_base)
        if reason is not None:
            degraded = DegradedRound(self.fetcher, state, closed,
                                     max_pages=self.fallback_max_pages,
                                     max_sitemaps=self.fallback_max_sitemaps)
            async for item in degraded.run(reason):
                yield item
            problems += degraded.problems
            end["degraded"] = f"REST API is closed ({reason}): watching the RSS feed and sitemap"
