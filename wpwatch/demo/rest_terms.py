"""The taxonomy routes: term listings, single terms and their links."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from wpwatch.demo.model import (
    Taxonomy,
    Term,
)
from wpwatch.demo.params import (
    Params,
    RestError,
    no_route,
    pagination_links,
)
from wpwatch.demo.records import CURIES, PostRecords


class RestTerms(PostRecords):
    """``/wp/v2/<taxonomy rest_base>`` and ``/wp/v2/<taxonomy rest_base>/<id>``."""

    def _term_data(self, term: Term, tax: Taxonomy) -> dict:
        d: dict[str, Any] = {
            "id": term.id,
            "count": self._term_count(term),
            "description": term.description,
            "link": self._term_link(term),
            "name": term.name,
            "slug": term.slug,
            "taxonomy": term.taxonomy,
        }
        if tax.hierarchical:
            d["parent"] = term.parent
        d["meta"] = []
        links: dict[str, Any] = {
            "self": [
                {
                    "href": self.rest_url(f"wp/v2/{tax.rest_base}/{term.id}"),
                    "targetHints": {"allow": ["GET"]},
                }
            ],
            "collection": [{"href": self.rest_url(f"wp/v2/{tax.rest_base}")}],
            "about": [{"href": self.rest_url(f"wp/v2/taxonomies/{tax.slug}")}],
        }
        if tax.hierarchical and term.parent:
            links["up"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/{tax.rest_base}/{term.parent}")}
            ]
        links["wp:post_type"] = [
            {
                "href": self.rest_url(
                    f"wp/v2/{self._types[t].rest_base}", f"{tax.rest_base}={term.id}"
                )
            }
            for t in tax.types
            if t in self._types
        ]
        links["curies"] = CURIES
        d["_links"] = links
        return d

    def _terms_route(
        self, method: str, tax: Taxonomy, parts: list[str], params: dict[str, Any]
    ) -> tuple:
        if method not in ("GET", "HEAD"):
            if method == "POST" and len(parts) == 1:
                raise RestError(
                    "rest_cannot_create",
                    "Sorry, you are not allowed to create terms in this taxonomy.",
                    401,
                )
            raise no_route()
        if tax.forbidden is not None:
            raise RestError(*tax.forbidden, 401)
        if len(parts) == 2 and parts[1].isdigit():
            term = self._terms[tax.slug].get(int(parts[1]))
            if term is None:
                raise RestError("rest_term_invalid", "Term does not exist.", 404)
            return 200, [("Allow", "GET")], self._term_data(term, tax), None
        if len(parts) != 1:
            raise no_route()
        p = Params(params)
        p.enum("context", ["view", "embed", "edit"], "view")
        p.integer("page", 1, minimum=1)
        p.integer("per_page", 10, minimum=1, maximum=100)
        p.string("search")
        p.int_list("exclude")
        p.int_list("include")
        p.enum("order", ["asc", "desc"], "asc")
        p.enum(
            "orderby",
            [
                "id",
                "include",
                "name",
                "slug",
                "include_slugs",
                "term_group",
                "description",
                "count",
            ],
            "name",
        )
        p.boolean("hide_empty")
        if tax.hierarchical:
            p.integer("parent")
        p.integer("post")
        p.str_list("slug")
        p.check()
        terms = list(self._terms[tax.slug].values())
        if p.get("include"):
            inc = set(p.get("include"))
            terms = [t for t in terms if t.id in inc]
        if p.get("exclude"):
            exc = set(p.get("exclude"))
            terms = [t for t in terms if t.id not in exc]
        if p.get("slug"):
            slugs = set(p.get("slug"))
            terms = [t for t in terms if t.slug in slugs]
        if p.get("parent") is not None:
            terms = [t for t in terms if t.parent == p.get("parent")]
        if p.get("post") is not None:
            post = self._posts.get(p.get("post"))
            if post is None:
                raise RestError("rest_post_invalid_id", "Invalid post ID.", 400)
            if post.status != "publish":
                raise RestError(
                    "rest_forbidden_context",
                    "Sorry, you are not allowed to view terms for this post.",
                    401,
                )
            ids = post.terms.get(tax.slug, [])
            terms = [t for t in terms if t.id in ids]
        if p.get("search"):
            needle = p.get("search").casefold()
            terms = [t for t in terms if needle in t.name.casefold() or needle in t.slug]
        if p.get("hide_empty"):
            terms = [t for t in terms if self._term_count(t) > 0]
        orderby = p.get("orderby")
        keys: dict[str, Callable[[Term], Any]] = {
            "id": lambda t: t.id,
            "name": lambda t: (t.name.casefold(), t.id),
            "slug": lambda t: t.slug,
            "description": lambda t: t.description,
            "count": lambda t: self._term_count(t),
            "term_group": lambda t: t.id,
            "include_slugs": lambda t: t.id,
        }
        if orderby == "include" and p.get("include"):
            pos = {tid: i for i, tid in enumerate(p.get("include"))}
            terms.sort(key=lambda t: pos[t.id])
        else:
            terms.sort(key=keys.get(orderby, keys["name"]), reverse=p.get("order") == "desc")
        page, per_page = p.get("page"), p.get("per_page")
        total = len(terms)
        max_pages = math.ceil(total / per_page)
        if page > max_pages and total > 0:
            raise RestError(
                "rest_term_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        window = terms[(page - 1) * per_page : page * per_page]
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        links = pagination_links(self.rest_url(f"wp/v2/{tax.rest_base}"), params, page, max_pages)
        if links:
            headers.append(("Link", links))
        headers.append(("Allow", "GET"))
        return 200, headers, [self._term_data(t, tax) for t in window], None
