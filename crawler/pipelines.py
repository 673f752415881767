"""Stores what the spider fetched: versions, changes and the round's outcome."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals

from archive import PostRecord
from crawler.items import FallbackFetched, PostGone, PostsFetched
from diffs.compare import changed_fields
from diffs.normalize import content_hash, normalize, revision_count

logger = logging.getLogger(__name__)


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
    )


class ArchivePipeline:
    """Writes items into the spider's archive, one transaction per item."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        """Store one item. A failure is the round's error, never a silent loss.

        The spider keeps the watermarks of a type with a failed item where they
        were, so the next round fetches those posts again.
        """
        spider = self.crawler.spider
        try:
            self._store(spider, item)
        except Exception as exc:  # a bad record or a full disk: this round's error
            logger.exception("%s: could not store %r", spider.site_url, item)
            kind = getattr(item, "type", "?")
            spider.report.store_failures.add(kind)
            spider.report.errors.append(
                f"could not store {kind} from {item.response.url} "
                f"({type(exc).__name__}: {str(exc)[:200]}); fetched again next round"
            )
        return item

    def _store(self, spider: Any, item: Any) -> None:
        archive = spider.archive
        if isinstance(item, PostsFetched):
            records = [to_record(i, p) for i, p in item.posts]
            # posts first seen by degraded mode (REST was closed): their first REST
            # version is compared only on the fields the feed or page had
            over = archive.fallback_made(spider.site["id"], item.type, [r.wp_id for r in records])
            if over:
                archive.record_over_fallback(
                    site_id=spider.site["id"],
                    round_id=spider.round_id,
                    type_=item.type,
                    response=item.response,
                    records=[r for r in records if r.wp_id in over],
                    compare=changed_fields,
                )
                records = [r for r in records if r.wp_id not in over]
            archive.record_posts(
                site_id=spider.site["id"],
                round_id=spider.round_id,
                type_=item.type,
                response=item.response,
                records=records,
                baseline=item.baseline,
                compare=changed_fields,
            )
        elif isinstance(item, FallbackFetched):
            archive.record_fallback_posts(
                site_id=spider.site["id"],
                round_id=spider.round_id,
                type_=item.type,
                response=item.response,
                records=item.records,
                baseline=item.baseline,
            )
        elif isinstance(item, PostGone):
            archive.record_gone(
                site_id=spider.site["id"],
                round_id=spider.round_id,
                type_=item.type,
                wp_id=item.wp_id,
                kind=item.kind,
                response=item.response,
            )

    def spider_closed(self, spider: Any, reason: str) -> None:
        if spider.round_id is None:
            return
        stats = self.crawler.stats
        report = spider.report
        if reason != "finished":
            outcome, error = "interrupted", f"round stopped early ({reason})"
        elif report.fatal:
            outcome, error = "failed", report.fatal
        elif report.degraded:
            outcome, error = "degraded", "; ".join([report.degraded, *report.errors[:4]])
        elif report.errors:
            outcome, error = "errors", "; ".join(report.errors[:5])
        else:
            outcome, error = "ok", None
        spider.archive.finish_round(
            spider.round_id,
            outcome=outcome,
            requests=stats.get_value("downloader/request_count", 0),
            bytes_=stats.get_value("downloader/response_bytes", 0),
            errors=len(report.errors) + (1 if report.fatal else 0),
            error=error,
        )
