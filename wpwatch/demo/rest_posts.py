"""The post-type routes: listings with their parameters, single posts, revisions.

Listings follow ``WP_REST_Posts_Controller``: strict ``>``/``<`` date filters
on the site-local columns, ``400`` past the last page, ``include=`` dropping
non-public ids, ``X-WP-Total`` and ``Link`` headers (docs/wordpress-rest.md §4-§6);
a non-public post is a 401 and a deleted one a 404 (§8).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from wpwatch.demo.model import (
    ALL_STATUS_ENUM,
    Post,
    PostType,
)
from wpwatch.demo.params import (
    Params,
    RestError,
    invalid_post_id,
    no_route,
    pagination_links,
    rest_forbidden,
)
from wpwatch.demo.php import (
    auto_excerpt,
    plain_text,
)
from wpwatch.demo.records import PostRecords


class RestPosts(PostRecords):
    """``/wp/v2/<rest_base>`` and ``/wp/v2/<rest_base>/<id>`` for every post type."""

    @staticmethod
    def _orderby_enum(pt: PostType) -> list[str]:
        enum = [
            "author",
            "date",
            "id",
            "include",
            "modified",
            "parent",
            "relevance",
            "slug",
            "include_slugs",
            "title",
        ]
        if pt.hierarchical:
            enum.append("menu_order")
        return enum

    def _post_type_route(
        self, method: str, pt: PostType, parts: list[str], params: dict[str, Any]
    ) -> tuple:
        read = method in ("GET", "HEAD")
        if len(parts) == 1:
            if not read:
                if method == "POST":
                    raise RestError(
                        "rest_cannot_create",
                        "Sorry, you are not allowed to create posts as this user.",
                        401,
                    )
                raise no_route()
            if pt.kind == "forbidden":
                raise _refused(pt)
            if pt.kind == "empty":
                return self._empty_collection(pt, params)
            return self._collection(pt, params)
        if not parts[1].isdigit():
            raise no_route()
        post_id = int(parts[1])
        if len(parts) == 2:
            if method == "DELETE":
                self._existing(pt, post_id)
                raise RestError(
                    "rest_cannot_delete", "Sorry, you are not allowed to delete this post.", 401
                )
            if method in ("POST", "PUT", "PATCH"):
                self._existing(pt, post_id)
                raise RestError(
                    "rest_cannot_edit", "Sorry, you are not allowed to edit this post.", 401
                )
            if not read:
                raise no_route()
            return self._single(pt, post_id, params)
        if len(parts) in (3, 4) and parts[2] == "revisions" and pt.kind == "posts" and read:
            if len(parts) == 4 and not parts[3].isdigit():
                raise no_route()
            post = self._posts.get(post_id)
            if post is None or post.type != pt.slug:
                raise RestError("rest_post_invalid_parent", "Invalid post parent ID.", 404)
            raise RestError(
                "rest_cannot_read",
                "Sorry, you are not allowed to view revisions of this post.",
                401,
            )
        raise no_route()

    def _existing(self, pt: PostType, post_id: int) -> Post:
        post = self._posts.get(post_id)
        if post is None or post.type != pt.slug:
            raise invalid_post_id()
        return post

    def _single(self, pt: PostType, post_id: int, params: dict[str, Any]) -> tuple:
        p = Params(params)
        p.enum("context", ["view", "embed", "edit"], "view")
        p.string("password")
        p.check()
        if pt.kind == "forbidden":
            raise invalid_post_id() if post_id not in self._posts else _refused(pt)
        post = self._existing(pt, post_id) if pt.kind == "posts" else None
        if post is None:
            raise invalid_post_id()
        if p.get("context") == "edit":
            raise RestError(
                "rest_forbidden_context", "Sorry, you are not allowed to edit this post.", 401
            )
        if post.status != "publish":
            raise rest_forbidden()
        data, body = self._rendered(post)
        if post.password and p.get("password") == post.password:
            data = json.loads(body)
            data["content"]["rendered"] = post.content
            data["excerpt"]["rendered"] = (
                post.excerpt if post.excerpt is not None else auto_excerpt(post.content)
            )
            body = None  # type: ignore[assignment]
        headers = [
            ("Link", f'<{self.permalink(post)}>; rel="alternate"; type=text/html'),
            ("Allow", "GET"),
        ]
        if p.get("context") == "embed":
            return 200, headers, self._embed(data), None
        if params.get("_fields") is not None:
            return 200, headers, data, None
        return 200, headers, data, body

    @staticmethod
    def _embed(data: dict) -> dict:
        keys = (
            "id",
            "date",
            "slug",
            "type",
            "link",
            "title",
            "excerpt",
            "author",
            "featured_media",
            "parent",
            "menu_order",
            "_links",
        )
        return {k: data[k] for k in keys if k in data}

    def _validate_collection(self, pt: PostType, params: dict[str, Any]) -> Params:
        p = Params(params)
        p.enum("context", ["view", "embed", "edit"], "view")
        p.integer("page", 1, minimum=1)
        p.integer("per_page", 10, minimum=1, maximum=100)
        p.string("search")
        p.date("after")
        if self.supports_modified_after:
            p.date("modified_after")
        p.int_list("author")
        p.int_list("author_exclude")
        p.date("before")
        if self.supports_modified_after:
            p.date("modified_before")
        p.int_list("exclude")
        p.int_list("include")
        if pt.hierarchical:
            p.integer("menu_order")
        p.integer("offset")
        p.enum("order", ["asc", "desc"], "desc")
        p.enum("orderby", self._orderby_enum(pt), "date")
        if pt.hierarchical:
            p.int_list("parent")
            p.int_list("parent_exclude")
        p.str_list("slug")
        p.enum_list("status", ALL_STATUS_ENUM, ["publish"])
        if pt.taxonomies:
            p.enum("tax_relation", ["AND", "OR"])
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is None or tax.forbidden is not None:
                continue
            p.int_list(tax.rest_base)
            p.int_list(tax.rest_base + "_exclude")
        if pt.slug == "post":
            p.boolean("sticky")
        p.check()
        # sanitize_params: anonymous users may only ask for published posts
        if any(s != "publish" for s in p.get("status", ["publish"])):
            raise RestError(
                "rest_invalid_param",
                "Invalid parameter(s): status",
                400,
                {
                    "params": {"status": "Status is forbidden."},
                    "details": {
                        "status": {
                            "code": "rest_forbidden_status",
                            "message": "Status is forbidden.",
                            "data": {"status": 401},
                        }
                    },
                },
            )
        if p.get("context") == "edit":
            raise RestError(
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
                401,
            )
        if p.get("orderby") == "relevance" and not p.get("search"):
            raise RestError(
                "rest_no_search_term_defined",
                "You need to define a search term to order by relevance.",
                400,
            )
        if p.get("orderby") == "include" and not p.get("include"):
            raise RestError(
                "rest_orderby_include_missing_include",
                "You need to define an include parameter to order by include.",
                400,
            )
        return p

    def _local(self, parsed: tuple[datetime, timedelta | None]) -> datetime:
        """A query date as the site-local wall clock that WP_Date_Query compares with."""
        naive, offset = parsed
        if offset is None:
            return naive
        return naive - offset + self._offset()

    def _sorted_public(self, pt: PostType, orderby: str, desc: bool) -> list[Post]:
        key = (pt.slug, orderby, desc)
        cached = self._sort_cache.get(key)
        if cached is not None and cached[0] == self._gen:
            return cached[1]
        posts = [p for p in self._posts.values() if p.type == pt.slug and p.status == "publish"]
        keyfuncs: dict[str, Callable[[Post], Any]] = {
            "date": lambda p: (p.date, p.id),
            "modified": lambda p: (p.modified, p.id),
            "id": lambda p: p.id,
            "title": lambda p: (plain_text(p.title).casefold(), p.id),
            "slug": lambda p: (p.slug, p.id),
            "author": lambda p: (p.author, p.id),
            "parent": lambda p: (p.parent, p.id),
            "menu_order": lambda p: (p.menu_order, p.id),
            "include_slugs": lambda p: (p.date, p.id),
            "relevance": lambda p: (p.date, p.id),
            "include": lambda p: (p.date, p.id),
        }
        posts.sort(key=keyfuncs[orderby], reverse=desc)
        self._sort_cache[key] = (self._gen, posts)
        return posts

    def _query(self, pt: PostType, p: Params) -> list[Post]:
        orderby = p.get("orderby")
        desc = p.get("order") == "desc"
        posts = self._sorted_public(pt, orderby, desc)
        conds: list[Callable[[Post], bool]] = []
        include = p.get("include")
        if include:
            inc = set(include)
            conds.append(lambda x: x.id in inc)
        exclude = p.get("exclude")
        if exclude:
            exc = set(exclude)
            conds.append(lambda x: x.id not in exc)
        slugs = p.get("slug")
        if slugs:
            slug_set = set(slugs)
            conds.append(lambda x: x.slug in slug_set)
        if p.get("author"):
            authors = set(p.get("author"))
            conds.append(lambda x: x.author in authors)
        if p.get("author_exclude"):
            not_authors = set(p.get("author_exclude"))
            conds.append(lambda x: x.author not in not_authors)
        if p.get("parent"):
            parents = set(p.get("parent"))
            conds.append(lambda x: x.parent in parents)
        if p.get("parent_exclude"):
            not_parents = set(p.get("parent_exclude"))
            conds.append(lambda x: x.parent not in not_parents)
        if p.get("menu_order") is not None:
            order_value = p.get("menu_order")
            conds.append(lambda x: x.menu_order == order_value)
        for name, attr, greater in (
            ("after", "date", True),
            ("before", "date", False),
            ("modified_after", "modified", True),
            ("modified_before", "modified", False),
        ):
            if p.get(name) is not None:
                bound = self._local(p.get(name))
                conds.append(_date_filter(attr, bound, greater))
        if p.get("sticky") is not None:
            want = p.get("sticky")
            conds.append(lambda x: x.sticky == want)
        tax_conds: list[Callable[[Post], bool]] = []
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is None or tax.forbidden is not None:
                continue
            wanted = p.get(tax.rest_base)
            if wanted:
                tax_conds.append(_has_a_term(tax_slug, set(wanted)))
            unwanted = p.get(tax.rest_base + "_exclude")
            if unwanted:
                conds.append(_has_none_of(tax_slug, set(unwanted)))
        if tax_conds:
            if p.get("tax_relation") == "OR":
                conds.append(lambda x: any(c(x) for c in tax_conds))
            else:
                conds.extend(tax_conds)
        search = p.get("search")
        if search:
            words = [w.casefold() for w in search.split() if w.strip('"')]
            words = [w.strip('"') for w in words]

            def matches(x: Post) -> bool:
                hay = (x.title + " " + (x.excerpt or "") + " " + x.content).casefold()
                return all(w[1:] not in hay if w.startswith("-") else w in hay for w in words)

            conds.append(matches)
        if conds:
            posts = [x for x in posts if all(c(x) for c in conds)]
        if orderby == "include" and include:
            position = {pid: i for i, pid in enumerate(include)}
            posts = sorted(posts, key=lambda x: position[x.id])
        elif orderby == "relevance" and search:
            phrase = search.casefold()
            posts = sorted(posts, key=lambda x: phrase not in x.title.casefold())
        return posts

    def _collection(self, pt: PostType, params: dict[str, Any]) -> tuple:
        p = self._validate_collection(pt, params)
        posts = self._query(pt, p)
        page, per_page = p.get("page"), p.get("per_page")
        total = len(posts)
        max_pages = math.ceil(total / per_page)
        if page > max_pages and total > 0:
            raise RestError(
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        offset = p.get("offset")
        start = offset if offset is not None else (page - 1) * per_page
        window = posts[max(start, 0) : max(start, 0) + per_page]
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        links = pagination_links(self.rest_url(f"wp/v2/{pt.rest_base}"), params, page, max_pages)
        if links:
            headers.append(("Link", links))
        headers.append(("Allow", "GET"))
        if p.get("context") == "embed":
            return 200, headers, [self._embed(self._rendered(x)[0]) for x in window], None
        if params.get("_fields") is not None:
            return 200, headers, [self._rendered(x)[0] for x in window], None
        body = b"[" + b",".join(self._rendered(x)[1] for x in window) + b"]"
        return 200, headers, None, body

    def _empty_collection(self, pt: PostType, params: dict[str, Any]) -> tuple:
        p = Params(params)
        p.enum("context", ["view", "embed", "edit"], "view")
        p.integer("page", 1, minimum=1)
        p.integer("per_page", 10, minimum=1, maximum=100)
        p.check()
        return 200, [("X-WP-Total", "0"), ("X-WP-TotalPages", "0"), ("Allow", "GET")], [], None


def _refused(pt: PostType) -> RestError:
    """The 401 of a post type closed to anonymous readers (menu items, templates)."""
    code, message = pt.forbidden or ("rest_forbidden", "Sorry, you are not allowed to do that.")
    return RestError(code, message, 401)


def _date_filter(attr: str, bound: datetime, greater: bool) -> Callable[[Post], bool]:
    """``after``/``before``, ``modified_after``/``modified_before``: strict, like WP_Date_Query."""
    if greater:
        return lambda post: getattr(post, attr) > bound
    return lambda post: getattr(post, attr) < bound


def _has_a_term(taxonomy: str, wanted: set[int]) -> Callable[[Post], bool]:
    return lambda post: bool(wanted.intersection(post.terms.get(taxonomy, ())))


def _has_none_of(taxonomy: str, unwanted: set[int]) -> Callable[[Post], bool]:
    return lambda post: not unwanted.intersection(post.terms.get(taxonomy, ()))
