"""One polling round of one WordPress site.

The round is written as one coroutine (`start`) that awaits its own requests
through the engine (`download_async`: downloader middlewares such as
robots.txt, AutoThrottle and compression still apply), because each step
decides what the next one asks for. It yields items; the pipeline stores them.

Per content type, an incremental round asks (facts §4–§7 explain why each):

1. ``orderby=modified`` with ``modified_after`` = watermark − overlap, ids and
   stamps only: edits, touches, unpublish-then-republish;
2. ``orderby=date`` with ``after`` = date watermark − overlap: scheduled posts
   that went live (their ``modified`` stays old);
3. ``orderby=id&order=desc``, ids only, first page: back-dated new posts (old
   dates, new id) and ``X-WP-Total``.

Then the full records of just the ids that moved (``include=``, 100 a request).
If ``X-WP-Total`` differs from what we expect after what we just found (which
also catches the balanced round: one unseen publication and one deletion), a
sweep of all ids by id order finds who left or arrived. A post that left is
judged only by a direct GET: 404 ``rest_post_invalid_id`` → deleted, 401/403
``rest_forbidden`` → unpublished, anything else → no verdict, an error on the
round, and the post stays as it was.

When the REST API is closed (a plugin's 401 ``rest_cannot_access`` or
``itsec_rest_api_access_restricted``, a removed route's 404 ``rest_no_route``,
a web server's HTML 403), the round goes on in degraded mode (`degraded_round`):
the RSS feed and the core sitemaps still reveal new posts; nothing is ever
judged gone from them. The round's error says so, and `wpwatch status` shows
the site as degraded.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from archive import Archive, RawResponse, TypeState, utcnow
from crawler import fallback, wpapi
from crawler.items import FallbackFetched, PostGone, PostsFetched
from wpwatch.exceptions import NotWordPress, RestClosed, RoundError, Unreachable
from wpwatch.values import normalize_site_url

logger = logging.getLogger(__name__)
progress_log = logging.getLogger("wpwatch.progress")

PER_PAGE = 100
MAX_PAGES = 10_000  # a bound on any listing (a million posts), whatever the headers say
RETRY_STATUSES = {429, 500, 502, 503, 504, 520, 522, 524}


# The default REST bases of the two core types, for degraded mode on a site
# whose types we never read.
CORE_BASES = {"post": "posts", "page": "pages"}


@dataclass
class RoundReport:
    errors: list[str] = field(default_factory=list)
    skipped_types: list[str] = field(default_factory=list)
    fatal: str | None = None
    degraded: str | None = None  # "REST API is closed (…): watching the RSS feed and sitemap"
    store_failures: set[str] = field(default_factory=set)  # types with an item not stored


class WordPressSpider(scrapy.Spider):
    name = "wordpress"

    def __init__(
        self,
        site_url: str,
        archive: Archive | str | None = None,
        full: bool | str = False,
        site_name: str | None = None,
        types: list[str] | str | None = None,
        overlap_seconds: int | str = 7200,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.site_url = normalize_site_url(site_url)
        self.archive = archive if isinstance(archive, Archive) else Archive(archive or "wpwatch.db")
        self.full = full in (True, "1", "true", "yes")
        self.site_name = site_name
        if isinstance(types, str):
            types = [t.strip() for t in types.split(",") if t.strip()]
        self.type_filter = set(types or [])
        # Two hours covers a DST fall-back and late-committing saves (facts §5).
        self.overlap = timedelta(seconds=int(overlap_seconds))
        self.report = RoundReport()
        self.round_id: int | None = None
        self.site: dict[str, Any] = {}
        self.allow_other_host = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WordPressSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        spider.retry_times = s.getint("WPWATCH_RETRY_TIMES", 2)
        spider.retry_base = s.getfloat("WPWATCH_RETRY_BASE_DELAY", 1.0)
        spider.retry_after_cap = s.getfloat("WPWATCH_RETRY_AFTER_CAP", 120.0)
        spider.allow_other_host = s.getbool("WPWATCH_ALLOW_OTHER_HOST", False)
        spider.fallback_max_pages = s.getint("WPWATCH_FALLBACK_MAX_PAGES", 20)
        spider.fallback_max_sitemaps = s.getint("WPWATCH_FALLBACK_MAX_SITEMAPS", 20)
        spider.max_size = s.getint("DOWNLOAD_MAXSIZE", 0)
        return spider

    # -- the round ------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        self.site = self.archive.site(self.site_url, self.site_name)
        self.round_id = self.archive.start_round(self.site["id"], self.full)
        closed: dict[str, str] = {}  # type slug → REST base, for degraded mode
        reason: str | None = None
        try:
            try:
                api_root, types = await self.discover()
            except RestClosed as exc:
                reason = exc.reason
                closed = self._watched_bases()
                types = []
            states = self.archive.type_states(self.site["id"])
            for ctype in types:
                st = states.get(ctype.rest_base) or TypeState(type=ctype.rest_base)
                st.slug = ctype.slug
                try:
                    async for item in self.round_of_type(api_root, ctype, st):
                        yield item
                except RestClosed as exc:
                    reason = reason or exc.reason
                    closed[ctype.slug] = ctype.rest_base
            if reason is not None:
                async for item in self.degraded_round(reason, closed):
                    yield item
        except RoundError as exc:
            self.report.fatal = str(exc)
            logger.warning("%s: %s", self.site_url, exc)
        except Exception as exc:  # a bug or an answer nobody foresaw: this site's failure only
            logger.exception("%s: round failed", self.site_url)
            self.report.fatal = f"internal error ({type(exc).__name__}: {str(exc)[:200]})"
        await self._settled()
        # Let the engine run once more before start() ends: when start() ends
        # right after yielding an item, the engine notices only at its next
        # 5-second heartbeat that the spider is idle.
        await asyncio.sleep(0.01)

    async def discover(self) -> tuple[str, list[wpapi.ContentType]]:
        """The API root (cached in the archive, found again when stale) and the types."""
        cached = self.site.get("api_root")
        if cached:
            types = await self.fetch_types(cached, quiet=True)
            if types is not None:
                return cached, types
        root = await self.find_api_root()
        types = await self.fetch_types(root, quiet=False)
        assert types is not None
        self.archive.set_api_root(self.site["id"], root)
        return root, types

    async def find_api_root(self) -> str:
        home = wpapi.home_url(self.site_url)
        candidates: list[str] = []
        try:
            resp = await self.fetch(home, follow_redirects=True)
        except RoundError as exc:
            raise Unreachable(f"cannot reach the site: {exc}") from None
        header = wpapi.api_root_from_link_header(
            [v.decode("latin-1") for v in resp.headers.getlist(b"Link")], resp.url
        )
        if header:
            candidates.append(header)
        elif resp.status == 200 and isinstance(resp, scrapy.http.TextResponse):
            found = wpapi.api_root_from_html(resp.text, resp.url)
            if found:
                candidates.append(found)
        # the home page (or an earlier round) says this is WordPress: an HTML 401/403
        # on the API is then a closed API, not "not WordPress"
        wordpress = bool(candidates) or bool(self.site.get("api_root"))
        closed_html: str | None = None
        hosts = {urlsplit(self.site_url).hostname, urlsplit(resp.url).hostname}
        for found in list(candidates):
            if urlsplit(found).hostname not in hosts and not self.allow_other_host:
                self.report.errors.append(
                    f"the API link points to another host ({found}); not followed "
                    f"(set allow_other_host for this site if that is expected)"
                )
                candidates.remove(found)
        candidates += [c for c in wpapi.fallback_roots(self.site_url) if c not in candidates]
        for root in candidates:
            try:
                index = await self.fetch(root)
            except RoundError:
                continue
            if index.status == 200:
                try:
                    doc = wpapi.parse_json(index.body)
                except wpapi.WPApiError:
                    continue
                if wpapi.is_api_index(doc):
                    return root
            reason = wpapi.closed_reason(index.status, index.body)
            if reason is not None and not reason.endswith("HTML page"):
                raise RestClosed(reason)  # WordPress itself (or a plugin) says so
            closed_html = closed_html or reason
        if closed_html and wordpress:
            raise RestClosed(closed_html)
        raise NotWordPress(
            "not a WordPress site with a public REST API "
            "(no api.w.org link on the home page; /wp-json/ and ?rest_route=/ "
            "did not answer as WordPress)"
        )

    async def fetch_types(self, root: str, *, quiet: bool) -> list[wpapi.ContentType] | None:
        url = wpapi.route_url(root, "wp/v2/types")
        try:
            resp = await self.fetch(url)
            if resp.status != 200:
                reason = wpapi.closed_reason(resp.status, resp.body)
                if reason is not None:
                    raise RestClosed(reason)
                raise wpapi.WPApiError(f"HTTP {resp.status}")
            types = wpapi.watchable_types(wpapi.parse_json(resp.body))
        except RestClosed:
            raise
        except (RoundError, wpapi.WPApiError) as exc:
            if quiet:
                return None
            raise NotWordPress(f"{url} failed: {exc}") from None
        if self.type_filter:
            types = [t for t in types if t.rest_base in self.type_filter or t.slug in self.type_filter]
        return types

    async def round_of_type(
        self, root: str, ctype: wpapi.ContentType, st: TypeState
    ) -> AsyncIterator[Any]:
        known = self.archive.known_posts(self.site["id"], ctype.rest_base)
        base = ctype.route
        baseline = not st.baselined
        if baseline or self.full:
            seen: dict[int, dict[str, Any]] = {}
            try:
                async for item in self.walk_full(root, ctype, st, baseline, seen):
                    yield item
            except _TypeUnavailable as exc:
                self.report.skipped_types.append(f"{ctype.rest_base} ({exc})")
                return
            self._advance(st, seen.values())
            if not baseline:
                gone = [i for i, k in known.items() if k.state == "published" and i not in seen]
                async for item in self.judge_gone(root, ctype, gone):
                    yield item
            st.baselined = True
            await self._save_state(st)
            return

        # 1. modified since the watermark
        moved: set[int] = set()
        listed: dict[int, dict[str, Any]] = {}
        try:
            rows, _ = await self.list_all(
                root, base,
                {"_fields": "id,modified_gmt", "orderby": "modified", "order": "desc",
                 "modified_after": wpapi.query_date(st.modified_watermark, self.overlap)},
            )
        except _TypeUnavailable as exc:
            self.report.skipped_types.append(f"{ctype.rest_base} ({exc})")
            return
        for row in rows:
            k = known.get(row["id"])
            listed[row["id"]] = row
            if k is None or k.state != "published" or k.modified_gmt != row.get("modified_gmt"):
                moved.add(row["id"])
        # 2. published (by date) since the date watermark
        rows, _ = await self.list_all(
            root, base,
            {"_fields": "id,date_gmt", "orderby": "date", "order": "desc",
             "after": wpapi.query_date(st.date_watermark, self.overlap)},
        )
        for row in rows:
            k = known.get(row["id"])
            if k is None or k.state != "published":
                moved.add(row["id"])
        # 3. newest ids, and the total
        total, newest = await self.newest_ids(root, base, st.max_id or 0)
        for wp_id in newest:
            k = known.get(wp_id)
            if k is None or k.state != "published":
                moved.add(wp_id)

        fetched: dict[int, dict[str, Any]] = {}
        async for item in self.fetch_records(root, ctype, sorted(moved), fetched):
            yield item

        published = {i for i, k in known.items() if k.state == "published"} | set(fetched)
        if total is not None and total != len(published):
            progress_log.info(
                "%s %s: X-WP-Total %d, expected %d: sweeping ids",
                self.site_url, ctype.rest_base, total, len(published),
            )
            rows, _ = await self.list_all(
                root, base, {"_fields": "id", "orderby": "id", "order": "asc"}, progress=True
            )
            present = {row["id"] for row in rows}
            arrived = sorted(present - published)
            async for item in self.fetch_records(root, ctype, arrived, fetched):
                yield item
            gone = sorted(published - present - set(fetched))
            async for item in self.judge_gone(root, ctype, gone):
                yield item
        st.last_total = total
        self._advance(st, list(fetched.values()) + list(listed.values()))
        await self._save_state(st)

    async def _save_state(self, st: TypeState) -> None:
        """Move a type's watermarks, once everything fetched for it is stored.

        If the archive refused one of its items, the watermarks stay where they
        were, so the next round fetches those posts again: nothing fetched is lost.
        """
        await self._settled()
        if st.type in self.report.store_failures:
            return
        self.archive.save_type_state(self.site["id"], st)

    async def _settled(self, limit: float = 60.0) -> None:
        """Wait (bounded) until the pipeline has stored every item yielded so far."""
        slot = getattr(getattr(self.crawler.engine, "scraper", None), "slot", None)
        deadline = asyncio.get_running_loop().time() + limit
        while slot is not None and slot.itemproc_size > 0:
            if asyncio.get_running_loop().time() > deadline:
                logger.error("%s: items still being stored after %.0f s", self.site_url, limit)
                return
            await asyncio.sleep(0.005)

    def _advance(self, st: TypeState, rows: Any) -> None:
        for row in rows:
            st.modified_watermark = wpapi.max_stamp(st.modified_watermark, row.get("modified_gmt"))
            st.date_watermark = wpapi.max_stamp(st.date_watermark, row.get("date_gmt"))
            if isinstance(row.get("id"), int):
                st.max_id = max(st.max_id or 0, row["id"])

    # -- listings -----------------------------------------------------------------------
    async def list_page(
        self, root: str, route: str, params: dict[str, Any], page: int
    ) -> tuple[list[dict[str, Any]], int | None, int | None, Response]:
        url = wpapi.route_url(root, route, {**params, "per_page": PER_PAGE, "page": page})
        resp = await self.fetch(url)
        if resp.status == 400 and wpapi.error_code(resp.body) == "rest_post_invalid_page_number":
            return [], None, None, resp
        reason = wpapi.closed_reason(resp.status, resp.body)
        if reason is not None:
            raise RestClosed(reason)
        if resp.status in (401, 403) and page == 1:
            raise _TypeUnavailable(f"{resp.status} {wpapi.error_code(resp.body) or ''}".strip())
        if resp.status != 200:
            raise RoundError(f"{url} answered {_status_words(resp.status)}")
        try:
            doc = wpapi.parse_json(resp.body)
        except wpapi.WPApiError as exc:
            raise RoundError(f"{url}: {exc}") from None
        if not isinstance(doc, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), int) for r in doc
        ):
            raise RoundError(f"{url}: expected a JSON list of posts")
        total = wpapi.total_header(_headers(resp))
        pages = wpapi.total_header(_headers(resp), "X-WP-TotalPages")
        return doc, total, pages, resp

    async def list_all(
        self, root: str, route: str, params: dict[str, Any], *, progress: bool = False
    ) -> tuple[list[dict[str, Any]], int | None]:
        rows: list[dict[str, Any]] = []
        page, total = 1, None
        while True:
            batch, t, pages, _ = await self.list_page(root, route, params, page)
            total = t if total is None else total
            rows += batch
            if progress and pages and pages > 1:
                progress_log.info("%s %s: page %d/%d", self.site_url, route, page, pages)
            # a full page asks for the next one whatever X-WP-TotalPages says (headers
            # lie; past the end WordPress answers 400 rest_post_invalid_page_number)
            if len(batch) < PER_PAGE or page >= MAX_PAGES:
                return rows, total
            page += 1

    async def newest_ids(self, root: str, route: str, max_id: int) -> tuple[int | None, list[int]]:
        """Ids above the highest we know (new, whatever their dates), and X-WP-Total."""
        params = {"_fields": "id", "orderby": "id", "order": "desc"}
        out: list[int] = []
        page, total = 1, None
        while True:
            batch, t, _, _ = await self.list_page(root, route, params, page)
            total = t if total is None else total
            fresh = [r["id"] for r in batch if r["id"] > max_id]
            out += fresh
            if len(fresh) < len(batch) or len(batch) < PER_PAGE or page >= MAX_PAGES:
                return total, out
            page += 1

    async def walk_full(
        self,
        root: str,
        ctype: wpapi.ContentType,
        st: TypeState,
        baseline: bool,
        seen: dict[int, dict[str, Any]],
    ) -> AsyncIterator[Any]:
        """Every post of a type, full records, by id: stable paging (facts Part 2).

        Posts published or removed while we page shift the listing. When X-WP-Total
        moved between pages, or does not match what the pages held, a sweep of the
        ids finds the posts the pages skipped, and their records are fetched.
        """
        params = {"orderby": "id", "order": "asc"}
        totals: list[int | None] = []
        async for item in self._walk_pages(root, ctype, st, baseline, seen, params, totals):
            yield item
        if len(set(totals)) > 1 or (totals and totals[-1] is not None and totals[-1] != len(seen)):
            progress_log.info("%s %s: the listing moved while paging: sweeping ids",
                              self.site_url, ctype.rest_base)
            rows, _ = await self.list_all(
                root, ctype.route, {"_fields": "id", "orderby": "id", "order": "asc"}
            )
            skipped = sorted({row["id"] for row in rows} - set(seen))
            async for item in self.fetch_records(root, ctype, skipped, seen, baseline=baseline):
                yield item

    async def _walk_pages(
        self,
        root: str,
        ctype: wpapi.ContentType,
        st: TypeState,
        baseline: bool,
        seen: dict[int, dict[str, Any]],
        params: dict[str, Any],
        totals: list[int | None],
    ) -> AsyncIterator[Any]:
        page = 1
        while True:
            batch, total, pages, resp = await self.list_page(root, ctype.route, params, page)
            if batch or page == 1:
                totals.append(total)
            if page == 1:
                st.last_total = total
            if pages and pages > 1:
                progress_log.info(
                    "%s %s: page %d/%d (%d posts)",
                    self.site_url, ctype.rest_base, page, pages, total or 0,
                )
            if batch:
                for row in batch:
                    seen[row["id"]] = row
                yield PostsFetched(
                    type=ctype.rest_base,
                    response=_raw(resp),
                    posts=list(enumerate(batch)),
                    baseline=baseline,
                )
            if len(batch) < PER_PAGE or page >= MAX_PAGES:
                return
            page += 1

    async def fetch_records(
        self,
        root: str,
        ctype: wpapi.ContentType,
        ids: list[int],
        fetched: dict[int, dict[str, Any]],
        *,
        baseline: bool = False,
    ) -> AsyncIterator[Any]:
        ids = [i for i in ids if i not in fetched]
        for start in range(0, len(ids), PER_PAGE):
            chunk = ids[start : start + PER_PAGE]
            params = {"include": chunk, "orderby": "include"}
            batch, _, _, resp = await self.list_page(root, ctype.route, params, 1)
            for row in batch:
                fetched[row["id"]] = row
            if batch:
                yield PostsFetched(
                    type=ctype.rest_base,
                    response=_raw(resp),
                    posts=list(enumerate(batch)),
                    baseline=baseline,
                )

    async def judge_gone(
        self, root: str, ctype: wpapi.ContentType, ids: list[int]
    ) -> AsyncIterator[Any]:
        for wp_id in ids:
            url = wpapi.route_url(root, f"{ctype.route}/{wp_id}", {"_fields": "id,status"})
            try:
                resp = await self.fetch(url)
            except RoundError as exc:
                self.report.errors.append(f"{ctype.rest_base} {wp_id}: {exc}")
                continue
            verdict = wpapi.classify_gone(resp.status, resp.body)
            if verdict in ("deleted", "unpublished"):
                yield PostGone(type=ctype.rest_base, wp_id=wp_id, kind=verdict, response=_raw(resp))
            elif verdict is None:
                self.report.errors.append(
                    f"{ctype.rest_base} {wp_id} left the listing but {url} answered "
                    f"HTTP {resp.status} {wpapi.error_code(resp.body) or ''}: no verdict, kept as it was"
                )

    # -- degraded mode: the REST API is closed --------------------------------------------
    def _watched_bases(self) -> dict[str, str]:
        """Type slug → REST base of the types to watch when the API cannot tell us."""
        states = self.archive.type_states(self.site["id"])
        bases = {st.slug: st.type for st in states.values() if st.slug}
        bases = bases or dict(CORE_BASES)
        if self.type_filter:
            bases = {k: v for k, v in bases.items()
                     if k in self.type_filter or v in self.type_filter}
        return bases

    async def degraded_round(self, reason: str, bases: dict[str, str]) -> AsyncIterator[Any]:
        """New posts from the RSS feed and the core sitemaps; never a verdict on removals.

        A feed item names its post id (``?p=ID`` guid). A sitemap URL that the
        archive does not know and degraded mode has not seen before is looked up
        on its page (shortlink, REST alternate link), at most
        WPWATCH_FALLBACK_MAX_PAGES a round; the rest wait for the next round. The
        first degraded round of a site the archive knows nothing of is a baseline.
        """
        site_id = self.site["id"]
        known = self.archive.post_links(site_id)
        known_links = {link for link in known.values() if link}
        seen = self.archive.fallback_seen(site_id)
        baseline = not known and not seen
        problems: list[str] = []
        shown: list[str] = []
        sources = 0
        post_base = bases.get("post")

        feed = await self._read_feed(problems)
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
                yield FallbackFetched(post_base, _raw(resp), records, baseline)

        listed = await self._read_sitemaps(bases, problems)
        if listed is not None:
            sources += 1
            shown += [url for _, url in listed]
        if baseline:
            self.archive.mark_fallback_seen(site_id, shown)
        else:
            host = urlsplit(self.site_url).hostname
            types_of = {url: slug for slug, url in (listed or [])}
            candidates = [
                url for url in dict.fromkeys(shown)
                if url not in known_links and url not in seen and urlsplit(url).hostname == host
            ]
            probed: list[str] = []
            for url in candidates[: self.fallback_max_pages]:
                try:
                    resp = await self.fetch(url)
                except RoundError as exc:
                    problems.append(f"{url}: {exc}")
                    continue
                probed.append(url)
                if resp.status != 200:
                    continue
                ident = fallback.page_identity(
                    resp.url, [v.decode("latin-1") for v in resp.headers.getlist(b"Link")],
                    resp.body,
                )
                if ident is None:
                    continue
                base = ident.rest_base or bases.get(ident.type_slug or types_of.get(url) or "")
                if base not in bases.values() or (base, ident.wp_id) in known:
                    continue
                known[(base, ident.wp_id)] = url
                yield FallbackFetched(base, _raw(resp), [fallback.record_from_page(ident, url)])
            if len(candidates) > len(probed):
                progress_log.info("%s: %d new URLs in the sitemaps wait for the next round",
                                  self.site_url, len(candidates) - len(probed))
            self.archive.mark_fallback_seen(site_id, probed)
        if sources == 0:
            raise RoundError(
                f"the REST API is closed ({reason}), and the RSS feed and sitemap could not "
                f"be read either: {'; '.join(problems[:3])}"
            )
        self.report.degraded = f"REST API is closed ({reason}): watching the RSS feed and sitemap"
        self.report.errors += problems

    async def _fetch_fallback(self, what: str, url: str, problems: list[str]) -> Response | None:
        """A feed or sitemap answering 200, or None with the reason added to `problems`."""
        try:
            resp = await self.fetch(url)
        except RoundError as exc:
            problems.append(f"{what}: {exc}")
            return None
        if resp.status != 200:
            problems.append(f"{what} {url} answered {_status_words(resp.status)}")
            return None
        return resp

    async def _read_feed(
        self, problems: list[str]
    ) -> tuple[Response, list[fallback.FeedItem]] | None:
        for url in fallback.feed_urls(self.site_url):
            resp = await self._fetch_fallback("feed", url, problems)
            if resp is None:
                continue
            try:
                return resp, fallback.parse_feed(resp.body)
            except fallback.FallbackError as exc:
                problems.append(f"feed {url}: {exc}")
        return None

    async def _read_sitemaps(
        self, bases: dict[str, str], problems: list[str]
    ) -> list[tuple[str | None, str]] | None:
        """(type slug, URL) of every post the core sitemaps list, or None if unreadable."""
        host = urlsplit(self.site_url).hostname
        for url in fallback.sitemap_urls(self.site_url):
            resp = await self._fetch_fallback("sitemap", url, problems)
            if resp is None:
                continue
            try:
                subs, urls = fallback.parse_sitemap(resp.body)
            except fallback.FallbackError as exc:
                problems.append(f"sitemap {url}: {exc}")
                continue
            out: list[tuple[str | None, str]] = [(None, u) for u in urls]
            subs = [u for u in subs if urlsplit(u).hostname == host]
            subs = [u for u in subs if fallback.sitemap_type(u) in (None, *bases)]
            for sub in subs[: self.fallback_max_sitemaps]:
                try:
                    page = await self.fetch(sub)
                    if page.status != 200:
                        raise RoundError(f"{sub} answered {_status_words(page.status)}")
                    out += [(fallback.sitemap_type(sub), u) for u in fallback.parse_sitemap(
                        page.body)[1]]
                except (RoundError, fallback.FallbackError) as exc:
                    problems.append(f"sitemap: {exc}")
            return out
        return None

    # -- HTTP ---------------------------------------------------------------------------
    async def fetch(self, url: str, *, follow_redirects: bool = False) -> Response:
        """GET url through the engine; retry 429/5xx and network errors with backoff.

        API calls follow redirects only within the same host (an API that
        redirects elsewhere is not silently trusted); the home page follows any.
        A Cloudflare challenge is named as such, never taken for a rate limit.
        """
        attempt = hops = 0
        while True:
            request = scrapy.Request(
                url,
                dont_filter=True,
                meta={"handle_httpstatus_all": True, "dont_redirect": not follow_redirects},
            )
            try:
                resp = await self.crawler.engine.download_async(request)
            except IgnoreRequest as exc:
                raise RoundError(f"{url}: {self._ignored(exc)}") from None
            except Exception as exc:  # network: refused, reset, DNS, timeout, size cap
                words = _plain(exc, self.max_size)
                if attempt >= self.retry_times or "size cap" in words:
                    tries = f" ({attempt + 1} tries)" if attempt else ""
                    raise RoundError(f"{url}: {words}{tries}") from None
                await asyncio.sleep(self._backoff(attempt, None))
                attempt += 1
                continue
            if _is_challenge(resp):
                raise RoundError(
                    f"{url} answered a Cloudflare challenge (HTTP {resp.status}, "
                    "cf-mitigated: challenge), not the API"
                )
            if resp.status in (301, 302, 303, 307, 308) and not follow_redirects:
                target = urljoin(url, (resp.headers.get(b"Location") or b"").decode("latin-1"))
                if urlsplit(target).hostname != urlsplit(url).hostname and not self.allow_other_host:
                    raise RoundError(f"{url} redirects to another host ({target}); not followed")
                hops += 1
                if hops > 5:
                    raise RoundError(f"{url}: too many redirects (a redirect loop?)")
                url = target
                continue
            if resp.status in RETRY_STATUSES and attempt < self.retry_times:
                await asyncio.sleep(self._backoff(attempt, resp))
                attempt += 1
                continue
            return resp

    def _ignored(self, exc: IgnoreRequest) -> str:
        """Why Scrapy dropped a request, in plain words."""
        text = str(exc)
        if "robots.txt" in text:
            return "forbidden by robots.txt"
        if "redirections" in text:
            return "too many redirects (a redirect loop?)"
        if "MAXSIZE" in text or "max size" in text:
            return (f"response larger than the size cap once decompressed "
                    f"(DOWNLOAD_MAXSIZE {_size(self.max_size)}; a compression bomb?)")
        return f"request dropped ({text[:200]})"

    def _backoff(self, attempt: int, resp: Response | None) -> float:
        if resp is not None:
            value = resp.headers.get(b"Retry-After")
            if value:
                try:
                    return min(float(value.decode("latin-1").strip()), self.retry_after_cap)
                except ValueError:
                    pass
        return self.retry_base * (2**attempt) * (0.5 + random.random() / 2)


class _TypeUnavailable(Exception):
    """A content type whose listing answers 401/403 to anonymous clients: skipped."""


def _headers(resp: Response) -> dict[str, str]:
    """Lower-case header name → last value (Scrapy keeps a list per name)."""
    return {
        k.decode("latin-1").lower(): values[-1].decode("latin-1")
        for k, values in resp.headers.items()
        if values
    }


def _raw(resp: Response) -> RawResponse:
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, values in resp.headers.items()
        for v in values
    ]
    return RawResponse(
        url=resp.url, status=resp.status, headers=headers, body=resp.body, fetched_at=utcnow()
    )


def _is_challenge(resp: Response) -> bool:
    return (resp.headers.get(b"cf-mitigated") or b"").lower() == b"challenge"


def _status_words(status: int) -> str:
    if status == 429:
        return "HTTP 429 (rate limited)"
    if status >= 500:
        return f"HTTP {status} (server error)"
    return f"HTTP {status}"


def _size(n: int) -> str:
    return f"{n:,} bytes" if n else "off"


def _plain(exc: BaseException, max_size: int = 0) -> str:
    """A network failure in plain words."""
    name = type(exc).__name__
    text = str(exc).strip()
    table = {  # Scrapy 2.19's download exceptions, then Twisted's
        "max size": f"response larger than the size cap (DOWNLOAD_MAXSIZE {_size(max_size)})",
        "ConnectionRefusedError": "connection refused",
        "CannotResolveHostError": "DNS lookup failed",
        "DNSLookupError": "DNS lookup failed",
        "DownloadTimeoutError": "timed out",
        "TimeoutError": "timed out",
        "ResponseDataLossError": "connection closed mid-response (data lost)",
        "ResponseNeverReceived": "connection closed before a response",
        "ResponseFailed": "connection reset mid-response",
        "ParseError": "the answer was not an HTTP response (garbage bytes)",
        "ConnectionLost": "connection closed before a complete response",
        "DownloadFailedError": "connection failed",
    }
    for key, words in table.items():
        if key in name or key in text:
            return words
    return f"{name}: {text}"[:300] if text else name
