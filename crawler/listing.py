"""One content type's round over the REST API: listings, full records, gone verdicts.

An incremental round asks, per type (docs/wordpress-rest.md §4–§8 hold the
measured facts behind each rule):

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

A baseline (or a --full round) walks every post by id instead. The round of
a type ends with a `TypeDone` carrying its new watermarks, which
`with_state_on_last` folds into the type's last item so that the pipeline
stores them in one transaction.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scrapy.http import Response

from archive import KnownPost, TypeState
from core.exceptions import HTTPFault, RestClosed, RoundError, WPApiError
from core.values import utcnow
from crawler import wpapi
from crawler.auth import EDIT_PARAMS
from crawler.fetcher import Fetcher, RoundTimedOut, raw
from crawler.items import STATE_CARRIERS, PostGone, PostsFetched, TypeDone

if TYPE_CHECKING:
    from crawler.revisions import RevisionReader

logger = logging.getLogger(f"wpwatch.{__name__}")

PER_PAGE = 100
MAX_PAGES = 10_000  # a bound on any listing (a million posts), whatever the headers say


class TypeUnavailable(RoundError):
    """A content type whose listing answers 401/403 to anonymous clients: skipped."""


#: Answers to a listing that the types listing may explain: the type gone or closed to
#: anonymous clients, the REST API closed, or moved.
DOUBTFUL = frozenset({401, 403, 404, 410})


class TypesListingDoubted(RoundError):
    """A listing answered one of `DOUBTFUL` in a round that runs on a types listing kept
    from an earlier round: read the types listing again before judging that."""


async def with_state_on_last(items: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Fold each `TypeDone` into the item just before it, when that item can carry it.

    The watermarks then move in the same transaction as the last posts they
    cover. One item is held back at a time; if the round fails, the held item
    is still handed on (without watermarks) before the error goes up.
    """
    held: Any = None
    try:
        async for item in items:
            if isinstance(item, TypeDone):
                if isinstance(held, STATE_CARRIERS) and held.type == item.state.type:
                    yield dataclasses.replace(held, type_state=item.state)
                else:
                    if held is not None:
                        yield held
                    yield item
                held = None
                continue
            if held is not None:
                yield held
            held = item
    except Exception:
        if held is not None:
            yield held
        raise
    if held is not None:
        yield held


class TypeRound:
    """The round of one content type; yields items, appends soft errors to `problems`."""

    def __init__(self, fetcher: Fetcher, root: str, ctype: wpapi.ContentType, st: TypeState,
                 known: Mapping[int, KnownPost], *, full: bool, overlap: timedelta,
                 problems: list[str], revisions: RevisionReader | None = None,
                 kept_listing: bool = False) -> None:
        self.fetcher = fetcher
        self.root = root
        self.ctype = ctype
        self.st = st
        self.known = known
        self.full = full
        self.overlap = overlap
        self.problems = problems
        # an own site (credentials): what the editor sees, and every saved revision
        self.revisions = revisions
        self.edit_params = EDIT_PARAMS if fetcher.authenticated else {}
        # the type came from a types listing kept from an earlier round: a listing that
        # answers as if the type were gone or closed raises TypesListingDoubted
        self.kept_listing = kept_listing

    async def run(self) -> AsyncIterator[Any]:
        """Every item of the type's round, its `TypeDone` last; a skipped type moves nothing."""
        try:
            if self.full or not self.st.baselined:
                async for item in self.walk_round():
                    yield item
            else:
                async for item in self.incremental_round():
                    yield item
        except TypeUnavailable as exc:
            logger.info("%s %s: skipped (%s)", self.fetcher.site_url, self.ctype.rest_base, exc)
            return
        yield TypeDone(dataclasses.replace(self.st))

    async def walk_round(self) -> AsyncIterator[Any]:
        baseline = not self.st.baselined
        seen: dict[int, dict[str, Any]] = {}
        async for item in self.walk_full(baseline, seen):
            yield item
        self._advance(seen.values())
        if not baseline:
            gone = [i for i, k in self.known.items() if k.state == "published" and i not in seen]
            async for item in self.judge_gone(gone):
                yield item
        self.st.baselined = True

    async def incremental_round(self) -> AsyncIterator[Any]:
        st, known, route = self.st, self.known, self.ctype.route
        # 1. modified since the watermark
        moved: set[int] = set()
        listed: dict[int, dict[str, Any]] = {}
        rows, _ = await self.list_all(
            {"_fields": "id,modified_gmt", "orderby": "modified", "order": "desc",
             "modified_after": wpapi.query_date(st.modified_watermark, self.overlap)},
        )
        for row in rows:
            k = known.get(row["id"])
            listed[row["id"]] = row
            if k is None or k.state != "published" or k.modified_gmt != row.get("modified_gmt"):
                moved.add(row["id"])
        # 2. published (by date) since the date watermark
        rows, _ = await self.list_all(
            {"_fields": "id,date_gmt", "orderby": "date", "order": "desc",
             "after": wpapi.query_date(st.date_watermark, self.overlap)},
        )
        for row in rows:
            k = known.get(row["id"])
            if k is None or k.state != "published":
                moved.add(row["id"])
        # 3. newest ids, and the total
        total, newest = await self.newest_ids(st.max_id or 0)
        for wp_id in newest:
            k = known.get(wp_id)
            if k is None or k.state != "published":
                moved.add(wp_id)

        moved |= self.scheduled_or_recent()
        fetched: dict[int, dict[str, Any]] = {}
        async for item in self.fetch_records(sorted(moved), fetched):
            yield item

        published = {i for i, k in known.items() if k.state == "published"} | set(fetched)
        if total is not None and total != len(published):
            logger.debug("%s %s: X-WP-Total %d, expected %d: sweeping ids",
                         self.fetcher.site_url, route, total, len(published))
            rows, _ = await self.list_all({"_fields": "id", "orderby": "id", "order": "asc"})
            present = {row["id"] for row in rows}
            async for item in self.fetch_records(sorted(present - published), fetched):
                yield item
            async for item in self.judge_gone(sorted(published - present - set(fetched))):
                yield item
        st.last_total = total
        # new ids the archive already holds (stored by an earlier round) move max_id too
        stored = [{"id": i} for i in newest if i in known and known[i].state == "published"]
        self._advance([*fetched.values(), *listed.values(), *stored])

    def scheduled_or_recent(self) -> set[int]:
        """Own sites: known posts dated after now − overlap, scheduled ones included.

        A scheduled post is listed (``status=any``) long before it goes live, and
        going live moves neither its ``modified`` nor its date: its record is read
        again each round until its date is safely past. Anonymous rounds: none.
        """
        if not self.fetcher.authenticated:
            return set()
        horizon = wpapi.query_date(utcnow().replace("Z", "")[:19], self.overlap) or ""
        return {i for i, k in self.known.items()
                if k.state == "published" and (k.date_gmt or "") >= horizon.rstrip("Z")}

    def _advance(self, rows: Iterable[dict[str, Any]]) -> None:
        st = self.st
        if self.fetcher.authenticated:  # scheduled posts carry future stamps: not watermarks
            now = utcnow()[:19]
            rows = [{k: v for k, v in row.items()
                     if not (k in ("modified_gmt", "date_gmt") and isinstance(v, str) and v > now)}
                    for row in rows]
        for row in rows:
            st.modified_watermark = wpapi.max_stamp(st.modified_watermark, row.get("modified_gmt"))
            st.date_watermark = wpapi.max_stamp(st.date_watermark, row.get("date_gmt"))
            if isinstance(row.get("id"), int):
                st.max_id = max(st.max_id or 0, row["id"])

    # -- listings -----------------------------------------------------------------------
    async def list_page(
        self, params: dict[str, Any], page: int
    ) -> tuple[list[dict[str, Any]], int | None, int | None, Response]:
        url = wpapi.route_url(self.root, self.ctype.route,
                              {**params, **self.edit_params, "per_page": PER_PAGE, "page": page})
        resp = await self.fetcher.get(url)
        if resp.status != 200:
            if resp.status == 400 and (wpapi.error_code(resp.body)
                                       == "rest_post_invalid_page_number"):
                return [], None, None, resp  # past the last page
            raise self._refusal(resp, url, page)
        try:
            doc = wpapi.parse_json(resp.body)
        except WPApiError as exc:
            raise WPApiError(f"{exc} from {self.fetcher.where(url)}") from None
        if not isinstance(doc, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), int) for r in doc
        ):
            raise WPApiError(f"expected a JSON list of posts from {self.fetcher.where(url)}")
        total = wpapi.total_header(resp.headers)
        pages = wpapi.total_header(resp.headers, "X-WP-TotalPages")
        return doc, total, pages, resp

    def _refusal(self, resp: Response, url: str, page: int) -> RoundError:
        """What a listing's answer other than 200 (and not past the last page) means."""
        where = self.fetcher.where(url)
        if self.kept_listing and resp.status in DOUBTFUL:
            return TypesListingDoubted(f"HTTP {resp.status} from {where}")
        reason = wpapi.closed_reason(resp.status, resp.body)
        if reason is not None:
            return RestClosed(reason)
        if resp.status in (401, 403) and page == 1:
            return TypeUnavailable(f"{resp.status} {wpapi.error_code(resp.body) or ''}".strip())
        return self.fetcher.fault(resp) or HTTPFault(f"HTTP {resp.status} from {where}")

    async def list_all(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
        rows: list[dict[str, Any]] = []
        page, total = 1, None
        while True:
            batch, t, pages, _ = await self.list_page(params, page)
            total = t if total is None else total
            rows += batch
            if pages and pages > 1:
                logger.debug("%s %s: page %d/%d", self.fetcher.site_url, self.ctype.route,
                             page, pages)
            # a full page asks for the next one whatever X-WP-TotalPages says (headers
            # lie; past the end WordPress answers 400 rest_post_invalid_page_number)
            if len(batch) < PER_PAGE or page >= MAX_PAGES:
                return rows, total
            page += 1

    async def newest_ids(self, max_id: int) -> tuple[int | None, list[int]]:
        """Ids above the highest we know (new, whatever their dates), and X-WP-Total."""
        params = {"_fields": "id", "orderby": "id", "order": "desc"}
        out: list[int] = []
        page, total = 1, None
        while True:
            batch, t, _, _ = await self.list_page(params, page)
            total = t if total is None else total
            fresh = [r["id"] for r in batch if r["id"] > max_id]
            out += fresh
            if len(fresh) < len(batch) or len(batch) < PER_PAGE or page >= MAX_PAGES:
                return total, out
            page += 1

    async def walk_full(self, baseline: bool, seen: dict[int, dict[str, Any]]
                        ) -> AsyncIterator[Any]:
        """Every post of the type, full records, by id: stable paging.

        Posts published or removed while we page shift the listing. When X-WP-Total
        moved between pages, or does not match what the pages held, a sweep of the
        ids finds the posts the pages skipped, and their records are fetched.
        """
        params = {"orderby": "id", "order": "asc"}
        totals: list[int | None] = []
        page = 1
        while True:
            batch, total, pages, resp = await self.list_page(params, page)
            if batch or page == 1:
                totals.append(total)
            if page == 1:
                self.st.last_total = total
            if pages and pages > 1:
                logger.debug("%s %s: page %d/%d (%d posts)", self.fetcher.site_url,
                             self.ctype.rest_base, page, pages, total or 0)
            if batch:
                for row in batch:
                    seen[row["id"]] = row
                yield PostsFetched(type=self.ctype.rest_base, response=raw(resp),
                                   posts=list(enumerate(batch)), baseline=baseline,
                                   total=totals[0])
                async for item in self.revisions_of(batch):
                    yield item
            if len(batch) < PER_PAGE or page >= MAX_PAGES:
                break
            page += 1
        if len(set(totals)) > 1 or (totals and totals[-1] is not None and totals[-1] != len(seen)):
            logger.debug("%s %s: the listing moved while paging: sweeping ids",
                         self.fetcher.site_url, self.ctype.rest_base)
            rows, _ = await self.list_all({"_fields": "id", "orderby": "id", "order": "asc"})
            skipped = sorted({row["id"] for row in rows} - set(seen))
            async for item in self.fetch_records(skipped, seen, baseline=baseline,
                                                 total=totals[0]):
                yield item

    async def fetch_records(self, ids: list[int], fetched: dict[int, dict[str, Any]], *,
                            baseline: bool = False, total: int | None = None
                            ) -> AsyncIterator[Any]:
        ids = [i for i in ids if i not in fetched]
        for start in range(0, len(ids), PER_PAGE):
            chunk = ids[start : start + PER_PAGE]
            batch, _, _, resp = await self.list_page({"include": chunk, "orderby": "include"}, 1)
            for row in batch:
                fetched[row["id"]] = row
            if batch:
                yield PostsFetched(type=self.ctype.rest_base, response=raw(resp),
                                   posts=list(enumerate(batch)), baseline=baseline, total=total)
                async for item in self.revisions_of(batch):
                    yield item

    async def revisions_of(self, posts: list[dict[str, Any]]) -> AsyncIterator[Any]:
        """The revisions WordPress saved of these posts (own sites only), after them."""
        if self.revisions is None:
            return
        async for item in self.revisions.for_posts(self.ctype.route, self.ctype.rest_base,
                                                    posts):
            yield item

    async def judge_gone(self, ids: list[int]) -> AsyncIterator[Any]:
        base = self.ctype.rest_base
        for wp_id in ids:
            url = wpapi.route_url(
                self.root, f"{self.ctype.route}/{wp_id}", {"_fields": "id,status"}
            )
            try:
                resp = await self.fetcher.get(url)
            except RoundTimedOut:
                raise
            except RoundError as exc:
                self.problems.append(f"{base} {wp_id}: {exc}")
                continue
            verdict = wpapi.classify_gone(resp.status, resp.body)
            if verdict in ("deleted", "unpublished"):
                yield PostGone(type=base, wp_id=wp_id, kind=verdict, response=raw(resp))
            elif verdict is None:
                self.problems.append(
                    f"{base} {wp_id} left the listing but {self.fetcher.where(url)} answered "
                    f"HTTP {resp.status} {wpapi.error_code(resp.body) or ''}: no verdict, "
                    "kept as it was"
                )
