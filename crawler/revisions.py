"""Own sites: every revision WordPress saved of the posts a round fetched, with its author.

Run only with credentials (revisions and autosaves answer 401 to anonymous
clients). For each post the round fetched whose ``version-history`` count
says there are revisions we have not stored (an autosave overwritten in
place keeps the count: it is read again once its post gains a revision), one
listing of its revisions and one of its autosaves (ids, authors, times),
then each new one on its own URL with ``context=edit``: its own response, so
each revision is its own version in the archive and the hash chain. Author ids become logins through
``users/<id>`` (``context=edit`` gives the login; an editor without the right
to list users gets the public slug), asked once per author and round.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from archive.records import RevisionRecord
from core.exceptions import RoundError, WPApiError
from crawler import wpapi
from crawler.fetcher import Fetcher, RoundTimedOut, raw
from crawler.items import RevisionsFetched
from crawler.pipelines import to_record
from diffs.normalize import revision_count

logger = logging.getLogger(f"wpwatch.{__name__}")

LIST_FIELDS = "id,author,modified_gmt,parent"


class RevisionReader:
    """Reads the revisions of one site's posts during a round; soft errors go to `problems`."""

    def __init__(self, fetcher: Fetcher, root: str,
                 known: Mapping[tuple[str, int], frozenset[tuple[int, str]]],
                 problems: list[str]) -> None:
        self.fetcher = fetcher
        self.root = root
        self.known = known
        self.problems = problems
        self.logins: dict[int, str | None] = {}

    def wanted(self, rest_base: str, post: Mapping[str, Any]) -> bool:
        """Whether the post may have revisions not stored yet (its count says more)."""
        count = revision_count(post)
        stored = {rid for rid, _ in self.known.get((rest_base, int(post["id"])), ())}
        return count is not None and count > len(stored)

    async def for_posts(self, route: str, rest_base: str, posts: list[dict[str, Any]]
                        ) -> AsyncIterator[RevisionsFetched]:
        for post in posts:
            if not self.wanted(rest_base, post):
                continue
            wp_id = int(post["id"])
            try:
                revisions = await self._read(route, rest_base, wp_id)
            except RoundTimedOut:
                raise
            except RoundError as exc:
                self.problems.append(f"{rest_base} {wp_id}: revisions not read ({exc})")
                continue
            if revisions:
                yield RevisionsFetched(type=rest_base, wp_id=wp_id, revisions=revisions)

    async def _read(self, route: str, rest_base: str, wp_id: int) -> list[RevisionRecord]:
        known = self.known.get((rest_base, wp_id), frozenset())
        listed = await self._list(f"{route}/{wp_id}/revisions", {"per_page": 100})
        autosaves = await self._list(f"{route}/{wp_id}/autosaves", {})
        autosave_ids = {row["id"] for row in autosaves}
        rows = {row["id"]: row for row in listed} | {row["id"]: row for row in autosaves}
        out: list[RevisionRecord] = []
        for rid, row in sorted(rows.items()):
            saved = str(row.get("modified_gmt") or "")
            if (rid, saved) in known:
                continue
            sub = "autosaves" if rid in autosave_ids else "revisions"
            url = wpapi.route_url(self.root, f"{route}/{wp_id}/{sub}/{rid}", {"context": "edit"})
            resp = await self.fetcher.get(url)
            doc = self._json(resp, url)
            if not isinstance(doc, dict) or doc.get("id") != rid:
                raise WPApiError(f"expected revision {rid} from {self.fetcher.where(url)}")
            author = doc.get("author") if isinstance(doc.get("author"), int) else None
            # the revision is a version of its post: the record carries the post's id
            record = dataclasses.replace(to_record(None, doc), wp_id=wp_id)
            out.append(RevisionRecord(
                wp_revision_id=rid, record=record, response=raw(resp),
                saved_gmt=str(doc.get("modified_gmt") or saved), author_id=author,
                author_login=await self.login(author), autosave=rid in autosave_ids,
            ))
        return out

    async def _list(self, route: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        url = wpapi.route_url(self.root, route, {**params, "_fields": LIST_FIELDS})
        resp = await self.fetcher.get(url)
        doc = self._json(resp, url)
        if not isinstance(doc, list):
            raise WPApiError(f"expected a JSON list from {self.fetcher.where(url)}")
        return [row for row in doc if isinstance(row, dict) and isinstance(row.get("id"), int)]

    def _json(self, resp: Any, url: str) -> Any:
        if resp.status != 200:
            fault = self.fetcher.fault(resp)
            raise fault or WPApiError(
                f"HTTP {resp.status} {wpapi.error_code(resp.body) or ''} from "
                f"{self.fetcher.where(url)}".replace("  ", " "))
        try:
            return wpapi.parse_json(resp.body)
        except WPApiError as exc:
            raise WPApiError(f"{exc} from {self.fetcher.where(url)}") from None

    async def login(self, user_id: int | None) -> str | None:
        """The login of a user id (the slug when the login is not ours to see); cached."""
        if user_id is None or user_id <= 0:
            return None
        if user_id not in self.logins:
            self.logins[user_id] = None
            for params, key in (({"context": "edit", "_fields": "id,username"}, "username"),
                                ({"_fields": "id,slug"}, "slug")):
                url = wpapi.route_url(self.root, f"wp/v2/users/{user_id}", params)
                resp = await self.fetcher.get(url)
                if resp.status == 200:
                    try:
                        doc = wpapi.parse_json(resp.body)
                    except WPApiError:
                        continue
                    if isinstance(doc, dict) and isinstance(doc.get(key), str):
                        self.logins[user_id] = doc[key]
                        break
        return self.logins[user_id]
