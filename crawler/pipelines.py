"""The round's only writer: stores what a round yields, in order, and the round's record.

`RoundWriter.open` opens the round's row, `store` stores each item in its
own transaction, synchronously (so items are stored in the order the round
yielded them), and `finish` ends the round with its outcome. The Scrapy item
pipeline (`ArchivePipeline`) drives it for a Crawler per round; a node's
long-lived crawler (`crawler.host`) drives it directly. A type's new
watermarks are stored in the same transaction as the last item they cover,
and not at all once an earlier item of that type failed to store: the next
round then fetches those posts again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from scrapy.exceptions import NotConfigured
from sqlalchemy.exc import OperationalError

from archive import Archive, PostRecord, TypeState
from crawler.items import (
    NOT_THE_SITE,
    ApiRootFound,
    FallbackFetched,
    FallbackSeen,
    PostGone,
    PostsFetched,
    RevisionsFetched,
    RoundEnd,
    TypeDone,
)
from diffs.compare import changed_fields
from diffs.ignore import IgnoreRules
from diffs.normalize import content_hash, normalize, revision_count

logger = logging.getLogger(f"wpwatch.{__name__}")

#: Signal sent after each stored PostsFetched of a walk (baseline or --full):
#: ``site_url``, ``type``, ``count`` (posts in the item), ``total`` (the type's X-WP-Total).
posts_stored = object()

#: Items whose storing never makes a change (the others: posts, verdicts, revisions).
NO_CHANGES = (TypeDone, FallbackSeen, ApiRootFound, RoundEnd)

ROUND_ID = "wpwatch/round_id"  # stats keys the runner reads back
ARCHIVED = "wpwatch/archived/"  # + REST base: posts archived by a baseline


def to_record(index: int | None, post: dict[str, Any]) -> PostRecord:
    norm = normalize(post)
    title = post.get("title")
    return PostRecord(
        wp_id=int(post["id"]),
        item_index=index,
        normalized=norm,
        content_hash=content_hash(norm),
        modified_gmt=post.get("modified_gmt"),
        date_gmt=post.get("date_gmt"),
        link=post.get("link"),
        title=norm.get("title") if isinstance(title, dict) else None,
        revision_count=revision_count(post),
        raw=post,
    )


class RoundWriter:
    """Stores one round of one site: its round row, each item in order, its outcome.

    Scrapy-free, so that both ways of crawling share it: the `ArchivePipeline`
    of a Crawler per round, and a node's long-lived crawler (`crawler.host`).
    ``archived`` counts the posts a baseline archived, by REST base;
    ``on_posts_stored(type, count, total)`` hears of each stored page of a walk.
    """

    def __init__(self, archive: Archive, site_url: str, site_name: str | None = None, *,
                 full: bool = False, ignore: dict[str, Any] | None = None,
                 type_states: Mapping[str, TypeState] | None = None,
                 on_posts_stored: Callable[[str, int, int], None] | None = None) -> None:
        self.archive = archive
        self.stored_states = type_states or {}  # as the round found them: unchanged, not saved
        self.site_url = site_url
        self.site_name = site_name
        self.full = full
        self.rules = IgnoreRules.from_table(dict(ignore or {}))
        self.on_posts_stored = on_posts_stored
        self.site_id = 0
        self.round_id: int | None = None
        self.archived: dict[str, int] = {}
        self.failed_types: set[str] = set()  # types with an item not stored this round
        self.fallback_failed = False
        self.store_errors: list[str] = []
        self.end: RoundEnd | None = None
        self.stored_posts = False  # whether a store that can make a change was tried
        self.record: dict[str, Any] | None = None  # the finished round's, once finished

    def open(self) -> int:
        """The site's row and the round's ("running"); the round's id."""
        self.opened(*self.archive.open_round(self.site_url, self.site_name, self.full))
        assert self.round_id is not None
        return self.round_id

    def opened(self, site_id: int, round_id: int) -> None:
        """The round's row, opened by the caller (`Archive.begin_round`)."""
        self.site_id, self.round_id = site_id, round_id

    def store(self, item: Any) -> None:
        """Store one item. A failure is the round's error, never a silent loss."""
        try:
            self._store(item)
        except Exception as exc:  # a bad record or a full disk: this round's error
            if isinstance(exc, OperationalError):  # the database went away: the runner says so
                logger.debug("%s: could not store %r", self.site_url, item, exc_info=True)
            else:
                logger.exception("%s: could not store %r", self.site_url, item)
            kind = item.state.type if isinstance(item, TypeDone) else getattr(item, "type", None)
            if kind is not None:
                self.failed_types.add(kind)
            if isinstance(item, FallbackFetched):
                self.fallback_failed = True
            response = getattr(item, "response", None)
            what = f"{kind or type(item).__name__}" + (f" from {response.url}" if response else "")
            self.store_errors.append(
                f"could not store {what} ({type(exc).__name__}: {str(exc)[:200]}); "
                "fetched again next round"
            )

    def _state(self, type_: str, st: TypeState | None) -> TypeState | None:
        """Watermarks to store, unless an earlier item of the type was not stored or they
        did not move this round."""
        if type_ in self.failed_types or st == self.stored_states.get(type_):
            return None
        return st

    def _archived(self, type_: str, count: int) -> None:
        self.archived[type_] = self.archived.get(type_, 0) + count

    def _store(self, item: Any) -> None:
        archive, site_id, round_id = self.archive, self.site_id, self.round_id
        if not isinstance(item, NO_CHANGES):
            self.stored_posts = True
        if isinstance(item, PostsFetched):
            records = [to_record(i, p) for i, p in item.posts]
            # posts first seen by degraded mode (REST was closed): their first REST
            # version is compared only on the fields the feed or page had
            over = archive.fallback_made(site_id, item.type, [r.wp_id for r in records])
            if over:
                archive.record_over_fallback(
                    site_id=site_id, round_id=round_id, type_=item.type, response=item.response,
                    records=[r for r in records if r.wp_id in over], compare=changed_fields,
                )
                records = [r for r in records if r.wp_id not in over]
            archive.record_posts(
                site_id=site_id, round_id=round_id, type_=item.type, response=item.response,
                records=records, baseline=item.baseline, compare=changed_fields,
                type_state=self._state(item.type, item.type_state), scorer=self.rules,
            )
            if item.baseline:
                self._archived(item.type, len(item.posts))
            if item.total is not None and self.on_posts_stored is not None:
                self.on_posts_stored(item.type, len(item.posts), item.total)
        elif isinstance(item, RevisionsFetched):
            archive.record_revisions(site_id=site_id, type_=item.type, wp_id=item.wp_id,
                                     revisions=item.revisions)
        elif isinstance(item, PostGone):
            archive.record_gone(
                site_id=site_id, round_id=round_id, type_=item.type, wp_id=item.wp_id,
                kind=item.kind, response=item.response,
                type_state=self._state(item.type, item.type_state),
            )
        elif isinstance(item, TypeDone):
            st = self._state(item.state.type, item.state)
            if st is not None:
                archive.save_type_state(site_id, st)
        elif isinstance(item, FallbackFetched):
            archive.record_fallback_posts(
                site_id=site_id, round_id=round_id, type_=item.type, response=item.response,
                records=item.records, baseline=item.baseline,
            )
            if item.baseline:
                self._archived(item.type, len(item.records))
        elif isinstance(item, FallbackSeen):
            if not self.fallback_failed:  # else the next round looks at them again
                archive.mark_fallback_seen(site_id, item.urls)
        elif isinstance(item, ApiRootFound):
            archive.set_api_root(site_id, item.api_root)
        elif isinstance(item, RoundEnd):
            self.end = item

    def finish(self, *, requests: int, bytes_: int) -> None:
        """The round's outcome from its `RoundEnd` (none: stopped by a shutdown)."""
        if self.round_id is None:
            return
        end = self.end or RoundEnd(interrupted="round stopped before it ended (shutdown)")
        errors = [*end.errors, *self.store_errors]
        if end.interrupted:
            outcome, error = "interrupted", end.interrupted
        elif end.fatal:
            outcome, error = "failed", end.fatal
        elif end.degraded:
            outcome, error = "degraded", "; ".join([end.degraded, *errors[:4]])
        elif errors:
            outcome, error = "errors", "; ".join(errors[:5])
        else:
            outcome, error = "ok", None
        try:
            self.record = self.archive.finish_round(
                self.round_id, outcome=outcome, requests=requests, bytes_=bytes_,
                errors=len(errors) + (1 if end.fatal else 0), error=error,
                stored_posts=self.stored_posts)
        except OperationalError:  # the database went away: the round stays 'running' and
            # is recorded interrupted by the next round of the site
            logger.debug("round %s not finished in the archive", self.round_id, exc_info=True)


class ArchivePipeline:
    """A Crawler's round written by a `RoundWriter` into the archive of WPWATCH_ARCHIVE.

    WPWATCH_ARCHIVE is an `Archive` (the runner passes its own, with its
    change listeners) or a path or database URL. WPWATCH_IGNORE is the site's
    ignore table (`SiteConfig.ignore`), which every change is scored under.
    """

    def __init__(self, crawler: Any, archive: Archive) -> None:
        self.crawler = crawler
        self.archive = archive
        self.writer: RoundWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        archive = crawler.settings.get("WPWATCH_ARCHIVE")
        if archive is None:
            raise NotConfigured("WPWATCH_ARCHIVE is not set: nothing to store into")
        return cls(crawler, archive if isinstance(archive, Archive) else Archive(str(archive)))

    def open_spider(self) -> None:
        state = self.crawler.spider.state
        self.writer = RoundWriter(
            self.archive, state.site_url, state.site_name, full=state.full,
            ignore=self.crawler.settings.get("WPWATCH_IGNORE"), type_states=state.type_states,
            on_posts_stored=self._progress)
        self.crawler.stats.set_value(ROUND_ID, self.writer.open())

    def _progress(self, type_: str, count: int, total: int) -> None:
        self.crawler.signals.send_catch_log(
            posts_stored, site_url=self.crawler.spider.site_url, type=type_, count=count,
            total=total)

    def process_item(self, item: Any) -> Any:
        if self.writer is not None:
            self.writer.store(item)
        return item

    def close_spider(self) -> None:
        if self.writer is None:
            return
        stats = self.crawler.stats
        for type_, count in self.writer.archived.items():
            stats.set_value(ARCHIVED + type_, count)
        self.writer.finish(
            requests=stats.get_value("downloader/request_count", 0)
            - stats.get_value(NOT_THE_SITE, 0),
            bytes_=stats.get_value("downloader/response_bytes", 0),
        )
