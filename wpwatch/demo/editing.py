"""Changing posts the way the editor, importers, plugins and cron do.

Each method copies what WordPress does to the stored row (``modified``,
revisions, slugs, scheduled posts), including the changes that do not move
``modified`` (term changes, cron publishing), which a watcher must still find
(docs/wordpress-rest.md §7).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from wpwatch.demo.model import (
    STATUSES,
    Post,
)
from wpwatch.demo.php import (
    slugify,
    utc_naive,
)
from wpwatch.demo.site_model import SiteModel


class SiteEditing(SiteModel):
    """Insert, edit, trash, restore, delete and schedule posts; set their terms."""

    def _changed(self, post: Post) -> None:
        post._rev += 1
        post._cache = None
        self._gen += 1

    def _alloc_id(self) -> int:
        new_id = self._next_id
        self._next_id += 1
        return new_id

    def _unique_slug(self, slug: str, ptype: str, post_id: int) -> str:
        if not slug:
            return slug
        taken = {p.slug for p in self._posts.values() if p.type == ptype and p.id != post_id}
        if slug not in taken:
            return slug
        n = 2
        while f"{slug}-{n}" in taken:
            n += 1
        return f"{slug}-{n}"

    def _settle_status(self, post: Post) -> None:
        """``wp_insert_post``: publish with a future date → future; future in the past → publish."""
        now_gmt = utc_naive(self.clock())
        if post.status == "publish" and post.date_gmt > now_gmt:
            post.status = "future"
        elif post.status == "future" and post.date_gmt <= now_gmt:
            post.status = "publish"

    def add(
        self,
        title: str = "",
        content: str = "",
        *,
        type: str = "post",
        status: str = "publish",
        date: datetime | str | None = None,
        slug: str | None = None,
        excerpt: str | None = None,
        author: int = 1,
        featured_media: int = 0,
        sticky: bool = False,
        password: str = "",
        parent: int = 0,
        menu_order: int = 0,
        comment_status: str = "open",
        ping_status: str = "open",
        template: str = "",
        format: str = "standard",
        meta: Any = None,
        id: int | None = None,
        guid: str | None = None,
        **fields: Any,
    ) -> int:
        """Insert a post (``wp_insert_post``) and return its id.

        An explicit ``date`` is a back-dated insert: ``modified`` = ``date``, as
        importers get.  Taxonomy fields go by REST name (``categories=[3]``,
        ``tags=["Sanctions"]``; names are created as terms).  Any other keyword
        is an extra field shown after ``class_list`` (like ``acf``).
        """
        with self._lock:
            ptype = self._post_type(type)
            if status not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}")
            if id is None:
                post_id = self._alloc_id()
            else:
                if id in self._posts:
                    raise ValueError(f"post {id} already exists")
                post_id = id
                self._next_id = max(self._next_id, id + 1)
            if date is None:
                local, gmt = self._now_cols()
                floating = status in ("draft", "pending")
            else:
                local, gmt = self._coerce_date(date)
                floating = False
            post = Post(
                post_id,
                type,
                status,
                local,
                gmt,
                local,
                gmt,
                title=title,
                content=content,
                excerpt=excerpt,
                author=author,
                featured_media=featured_media,
                sticky=sticky,
                password=password,
                parent=parent,
                menu_order=menu_order,
                comment_status=comment_status,
                ping_status=ping_status,
                template=template,
                format=format,
                meta=meta,
                guid=guid,
                floating_date=floating,
            )
            if slug is not None:
                post.slug = slug
            elif status not in ("draft", "pending"):
                post.slug = slugify(title) or str(post_id)
            post.slug = self._unique_slug(post.slug, type, post_id)
            by_base = self._tax_by_base(ptype)
            for key, value in fields.items():
                if key in by_base:
                    post.terms[by_base[key]] = self._term_ids(by_base[key], value)
                else:
                    post.extra[key] = value
            if "category" in ptype.taxonomies and "category" not in post.terms:
                post.terms["category"] = [1]
            for tax in ptype.taxonomies:
                post.terms.setdefault(tax, [])
            self._settle_status(post)
            self._posts[post_id] = post
            self._changed(post)
            return post_id

    def add_many(
        self,
        count: int,
        *,
        start: datetime | str = "2020-01-01T00:00:00Z",
        step: timedelta = timedelta(minutes=1),
        title: str = "Post {i}",
        content: str = "<p>Body of post {i}.</p>\n",
        type: str = "post",
        **fields: Any,
    ) -> list[int]:
        """Bulk-create back-dated published posts (like ``ctl bulk-create``): modified = date."""
        with self._lock:
            _, gmt0 = self._coerce_date(start)
            base = gmt0.replace(tzinfo=UTC)
            return [
                self.add(
                    title.format(i=i),
                    content.format(i=i),
                    type=type,
                    date=base + step * i,
                    **fields,
                )
                for i in range(count)
            ]

    def _bump(self, post: Post, *, revision: bool = True) -> None:
        post.modified, post.modified_gmt = self._now_cols()
        if revision:
            self._maybe_revision(post)

    def _maybe_revision(self, post: Post) -> None:
        """``wp_save_post_revision``: the first save always, later ones only on a real change."""
        snap = (post.title, post.content, post.excerpt)
        if not post.revisions or post.revision_snapshot != snap:
            post.revisions.append(self._alloc_id())
            post.revision_snapshot = snap

    def edit(self, post_id: int, /, *, bump_modified: bool = True, **fields: Any) -> None:
        """Change fields the way ``wp_update_post`` does (``modified`` moves, a revision
        is stored when title/content/excerpt changed).  ``bump_modified=False`` is a
        direct database write: nothing but the fields changes.
        """
        with self._lock:
            post = self._get(post_id)
            ptype = self._types[post.type]
            by_base = self._tax_by_base(ptype)
            old_status = post.status
            for key, value in fields.items():
                if key in by_base:
                    post.terms[by_base[key]] = self._term_ids(by_base[key], value)
                elif key == "date":
                    post.date, post.date_gmt = self._coerce_date(value)
                    post.floating_date = False
                elif key == "status":
                    if value not in STATUSES:
                        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
                    post.status = value
                elif key in ("type", "id"):
                    raise ValueError(f"{key} cannot be changed")
                elif key in Post.__dataclass_fields__ and not key.startswith("_"):
                    setattr(post, key, value)
                else:
                    post.extra[key] = value
            if post.status == "publish" and old_status != "publish":
                if post.floating_date:
                    post.date, post.date_gmt = self._now_cols()
                    post.floating_date = False
                if not post.slug:
                    post.slug = slugify(post.title) or str(post.id)
            if "slug" in fields or (post.status == "publish" and old_status != "publish"):
                post.slug = self._unique_slug(post.slug, post.type, post.id)
            self._settle_status(post)
            if bump_modified:
                self._bump(post)
            self._changed(post)

    def touch(self, post_id: int) -> None:
        """Re-save without changes: ``modified`` moves, content does not."""
        with self._lock:
            post = self._get(post_id)
            self._bump(post)
            self._changed(post)

    def trash(self, post_id: int) -> None:
        """``wp_trash_post``: status trash, slug ``…__trashed``, ``modified`` moves."""
        with self._lock:
            post = self._get(post_id)
            if post.status == "trash":
                return
            post.trashed_status = post.status
            post.status = "trash"
            if post.slug:
                post.slug += "__trashed"
            self._bump(post, revision=False)
            self._changed(post)

    def untrash(self, post_id: int, *, previous_status: bool = False) -> None:
        """``wp_untrash_post``: back as **draft** (WP ≥ 5.6), or its old status."""
        with self._lock:
            post = self._get(post_id)
            if post.status != "trash":
                return
            post.status = (post.trashed_status or "draft") if previous_status else "draft"
            post.trashed_status = None
            if post.slug.endswith("__trashed"):
                post.slug = self._unique_slug(post.slug[: -len("__trashed")], post.type, post.id)
            self._bump(post, revision=False)
            self._changed(post)

    def delete(self, post_id: int) -> None:
        """``wp_delete_post(force)``: gone; GET by id answers 404 from now on."""
        with self._lock:
            self._get(post_id)
            del self._posts[post_id]
            self._gen += 1

    def unpublish(self, post_id: int, status: str = "draft") -> None:
        """publish → draft (or ``private``/``pending``) through ``wp_update_post``."""
        self.edit(post_id, status=status)

    def publish_scheduled(self, post_id: int) -> None:
        """``wp_publish_post`` from cron: status → publish, ``modified`` unchanged."""
        with self._lock:
            post = self._get(post_id)
            post.status = "publish"
            if not post.slug:
                post.slug = self._unique_slug(
                    slugify(post.title) or str(post.id), post.type, post.id
                )
            self._changed(post)

    def run_cron(self) -> list[int]:
        """Publish every ``future`` post whose date has come; returns their ids."""
        with self._lock:
            now_gmt = utc_naive(self.clock())
            due = [
                p.id for p in self._posts.values() if p.status == "future" and p.date_gmt <= now_gmt
            ]
            for post_id in due:
                self.publish_scheduled(post_id)
            return due

    def set_terms(self, post_id: int, **taxonomies: Iterable[int | str]) -> None:
        """``wp_set_object_terms``: terms change, ``modified`` does not
        (``set_terms(5, categories=["News"], tags=[])``)."""
        with self._lock:
            post = self._get(post_id)
            by_base = self._tax_by_base(self._types[post.type])
            for key, values in taxonomies.items():
                tax = by_base.get(key, key if key in self._taxonomies else None)
                if tax is None:
                    raise KeyError(f"post type {post.type!r} has no taxonomy {key!r}")
                post.terms[tax] = self._term_ids(tax, values)
            self._changed(post)
