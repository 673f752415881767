"""Loading posts given as WordPress REST records, keeping ids, dates and extra fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from wpwatch.demo.editing import SiteEditing
from wpwatch.demo.model import (
    Post,
)
from wpwatch.demo.php import (
    DATE_FMT,
)


class FixtureLoading(SiteEditing):
    """``site.load_fixture(records)``: posts from REST records (view context)."""

    def load_fixture(self, records: Iterable[Mapping[str, Any]]) -> list[int]:
        """Load posts given as WordPress REST records (view context), keeping ids,
        dates, status, slug and extra fields.  ``link``, ``class_list`` and
        ``_links`` are recomputed; unknown term ids become placeholder terms.
        """
        ids = []
        with self._lock:
            for rec in records:
                ids.append(self._load_one(rec))
        return ids

    def _load_one(self, rec: Mapping[str, Any]) -> int:
        ptype = self._post_type(rec.get("type", "post"))
        post_id = int(rec["id"])
        if post_id in self._posts:
            raise ValueError(f"post {post_id} already exists")

        def col(local_key: str, gmt_key: str) -> tuple[datetime, datetime]:
            local = rec.get(local_key)
            gmt = rec.get(gmt_key)
            if local and gmt:
                return (datetime.strptime(local, DATE_FMT), datetime.strptime(gmt, DATE_FMT))
            if gmt:
                g = datetime.strptime(gmt, DATE_FMT)
                return g + self._offset(), g
            if local:
                return self._coerce_date(local)
            return self._now_cols()

        date, date_gmt = col("date", "date_gmt")
        modified, modified_gmt = col("modified", "modified_gmt")

        def rendered(key: str) -> str:
            value = rec.get(key)
            if isinstance(value, dict):
                return value.get("rendered", "")
            return value or ""

        protected = (
            bool((rec.get("content") or {}).get("protected"))
            if isinstance(rec.get("content"), dict)
            else False
        )
        title = rendered("title")
        if protected and title.startswith("Protected: "):
            title = title[len("Protected: ") :]
        guid = rec.get("guid")
        post = Post(
            post_id,
            ptype.slug,
            rec.get("status", "publish"),
            date,
            date_gmt,
            modified,
            modified_gmt,
            slug=rec.get("slug", ""),
            title=title,
            content=rendered("content"),
            excerpt=rendered("excerpt") if "excerpt" in rec else None,
            author=int(rec.get("author", 1)),
            featured_media=int(rec.get("featured_media", 0)),
            sticky=bool(rec.get("sticky", False)),
            password=rec.get("password") or ("protected" if protected else ""),
            parent=int(rec.get("parent", 0)),
            menu_order=int(rec.get("menu_order", 0)),
            comment_status=rec.get("comment_status", "open"),
            ping_status=rec.get("ping_status", "open"),
            template=rec.get("template", ""),
            format=rec.get("format", "standard"),
            meta=rec.get("meta"),
            guid=guid.get("rendered") if isinstance(guid, dict) else guid,
        )
        by_base = self._tax_by_base(ptype)
        skip = {
            "id",
            "date",
            "date_gmt",
            "guid",
            "modified",
            "modified_gmt",
            "slug",
            "status",
            "type",
            "link",
            "title",
            "content",
            "excerpt",
            "author",
            "featured_media",
            "comment_status",
            "ping_status",
            "sticky",
            "template",
            "format",
            "meta",
            "parent",
            "menu_order",
            "class_list",
            "_links",
            "_embedded",
            "password",
            "permalink_template",
            "generated_slug",
        }
        for key, value in rec.items():
            if key in by_base:
                tax = by_base[key]
                for term_id in value:
                    if not any(term_id in t for t in self._terms.values()):
                        label = self._taxonomies[tax].name.rstrip("s")
                        self.add_term(tax, f"{label} {term_id}", id=term_id)
                post.terms[tax] = list(value)
            elif key not in skip:
                post.extra[key] = value
        for tax in ptype.taxonomies:
            post.terms.setdefault(tax, [])
        history = (rec.get("_links") or {}).get("version-history") or [{}]
        count = int(history[0].get("count", 0) or 0)
        pred = (rec.get("_links") or {}).get("predecessor-version") or []
        self._next_id = max(self._next_id, post_id + 1)
        if count:
            last = int(pred[0]["id"]) if pred else None
            post.revisions = [self._alloc_id() for _ in range(count - (1 if last else 0))]
            if last:
                post.revisions.append(last)
            post.revision_snapshot = (post.title, post.content, post.excerpt)
        self._posts[post_id] = post
        self._next_id = max(self._next_id, post_id + 1, *(r + 1 for r in post.revisions))
        self._changed(post)
        return post_id
