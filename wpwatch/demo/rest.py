"""The REST API's entry point: headers, routing, ``_fields``, the index and type routes.

It answers ``/wp-json/…`` (or ``?rest_route=…``) requests: the API index with
its routes, ``/wp/v2/types`` and ``/wp/v2/taxonomies``; post and term routes
come from :mod:`~wpwatch.demo.rest_posts` and :mod:`~wpwatch.demo.rest_terms`.
Discovery and the index: docs/wordpress-rest.md §2; types and taxonomies: §3.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from wpwatch.demo.faults import blocked_by_web_server, rest_lockout
from wpwatch.demo.model import (
    ALL_STATUS_ENUM,
    PostType,
    Taxonomy,
)
from wpwatch.demo.params import (
    RestError,
    fields_tree,
    intersect,
    no_route,
)
from wpwatch.demo.php import (
    php_json,
)
from wpwatch.demo.records import CURIES
from wpwatch.demo.response import Response
from wpwatch.demo.rest_posts import RestPosts
from wpwatch.demo.rest_terms import RestTerms


class RestApi(RestPosts, RestTerms):
    """Answer one REST request, from lockouts to the encoded body."""

    def _rest_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json; charset=UTF-8"),
            ("X-Robots-Tag", "noindex"),
            ("Link", f'<{self.api_root}>; rel="https://api.w.org/"'),
            ("X-Content-Type-Options", "nosniff"),
            ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
            (
                "Access-Control-Allow-Headers",
                "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type",
            ),
            ("Vary", "Origin"),
        ]

    def _serve_rest(self, method: str, route: str, params: dict[str, Any]) -> Response:
        route = route.rstrip("/") or "/"
        if self.rest_mode == "blocked":
            return blocked_by_web_server()
        headers = self._rest_headers()
        try:
            lockout = rest_lockout(self.rest_mode, route)
            if lockout is not None:
                raise lockout
            status, extra, data, body = self._dispatch(method, route, params)
        except RestError as err:
            status, extra, data, body = err.status, [], err.body(), None
        # rest_filter_response_fields (not on errors)
        fields = params.get("_fields")
        if status < 400 and fields is not None and body is None:
            tree = fields_tree(fields)
            if tree is not None:
                data = (
                    [intersect(item, tree) if isinstance(item, dict) else item for item in data]
                    if isinstance(data, list)
                    else intersect(data, tree)
                )
        # a response's own Link header replaces the api.w.org one (PHP header() replace)
        if any(k == "Link" for k, _ in extra):
            headers = [h for h in headers if h[0] != "Link"]
        headers.extend(extra)
        if method == "HEAD":
            return Response(status, headers, b"")
        if body is None:
            body = php_json(data)
        return Response(status, headers, body)

    def _dispatch(
        self, method: str, route: str, params: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], Any, bytes | None]:
        """Returns (status, extra headers, data, pre-encoded body or None)."""
        low = route.lower()
        read = method in ("GET", "HEAD")
        allow = [("Allow", "GET")]
        with self._lock:
            if low == "/":
                if not read:
                    raise no_route()
                body = self._index_body(params)
                if params.get("_fields") is not None:
                    return 200, allow, json.loads(body), None
                return 200, allow, None, body
            if low == "/wp/v2":
                if not read:
                    raise no_route()
                return 200, allow, self._namespace_index(), None
            parts = low.split("/")[3:] if low.startswith("/wp/v2/") else None
            if not parts:
                raise no_route()
            if parts[0] == "types":
                return self._types_route(read, parts)
            if parts[0] == "taxonomies":
                return self._taxonomies_route(read, parts)
            ptype = next((t for t in self._types.values() if t.rest_base == parts[0]), None)
            if ptype is not None:
                return self._post_type_route(method, ptype, parts, params)
            tax = next((t for t in self._taxonomies.values() if t.rest_base == parts[0]), None)
            if tax is not None:
                return self._terms_route(method, tax, parts, params)
        raise no_route()

    # index ----------------------------------------------------------------

    def _route_data(self, route: str, methods: list[str], args: dict | None = None) -> dict:
        endpoints = [{"methods": ["GET"], "args": args or {}}]
        extra = [m for m in methods if m != "GET"]
        if extra:
            endpoints.append({"methods": extra, "args": {}})
        data: dict[str, Any] = {
            "namespace": "wp/v2" if route != "/" else "",
            "methods": methods,
            "endpoints": endpoints,
        }
        if "(?P<" not in route:
            data["_links"] = {"self": [{"href": self.rest_url(route)}]}
        return data

    def _collection_args(self, pt: PostType) -> dict:
        def arg(type_: str, **kw: Any) -> dict:
            return {"type": type_, **kw, "required": False}

        args = {
            "context": arg("string", default="view", enum=["view", "embed", "edit"]),
            "page": arg("integer", default=1, minimum=1),
            "per_page": arg("integer", default=10, minimum=1, maximum=100),
            "search": arg("string"),
            "after": arg("string", format="date-time"),
        }
        if self.supports_modified_after:
            args["modified_after"] = arg("string", format="date-time")
        args["author"] = arg("array", items={"type": "integer"}, default=[])
        args["author_exclude"] = arg("array", items={"type": "integer"}, default=[])
        args["before"] = arg("string", format="date-time")
        if self.supports_modified_after:
            args["modified_before"] = arg("string", format="date-time")
        args["exclude"] = arg("array", items={"type": "integer"}, default=[])
        args["include"] = arg("array", items={"type": "integer"}, default=[])
        if pt.hierarchical:
            args["menu_order"] = arg("integer")
        args["offset"] = arg("integer")
        args["order"] = arg("string", default="desc", enum=["asc", "desc"])
        args["orderby"] = arg("string", default="date", enum=self._orderby_enum(pt))
        if pt.hierarchical:
            args["parent"] = arg("array", items={"type": "integer"}, default=[])
            args["parent_exclude"] = arg("array", items={"type": "integer"}, default=[])
        args["slug"] = arg("array", items={"type": "string"})
        args["status"] = arg(
            "array", default="publish", items={"enum": list(ALL_STATUS_ENUM), "type": "string"}
        )
        if pt.taxonomies:
            args["tax_relation"] = arg("string", enum=["AND", "OR"])
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is None or tax.forbidden is not None:
                continue
            args[tax.rest_base] = arg("array", items={"type": "integer"}, default=[])
            args[tax.rest_base + "_exclude"] = arg("array", items={"type": "integer"}, default=[])
        if pt.slug == "post":
            args["sticky"] = arg("boolean")
        return args

    def _routes(self) -> dict[str, dict]:
        routes = {
            "/": self._route_data("/", ["GET"]),
            "/wp/v2": self._route_data("/wp/v2", ["GET"]),
        }
        for pt in self._types.values():
            base = f"/wp/v2/{pt.rest_base}"
            args = self._collection_args(pt) if pt.kind == "posts" else {}
            routes[base] = self._route_data(base, ["GET", "POST"], args)
            item = base + "/(?P<id>[\\d]+)"
            routes[item] = self._route_data(item, ["GET", "POST", "PUT", "PATCH", "DELETE"])
            if pt.kind == "posts" and "revisions" in pt.supports:
                rev = base + "/(?P<parent>[\\d]+)/revisions"
                routes[rev] = self._route_data(rev, ["GET"])
        routes["/wp/v2/types"] = self._route_data("/wp/v2/types", ["GET"])
        routes["/wp/v2/types/(?P<type>[\\w-]+)"] = self._route_data(
            "/wp/v2/types/(?P<type>[\\w-]+)", ["GET"]
        )
        routes["/wp/v2/taxonomies"] = self._route_data("/wp/v2/taxonomies", ["GET"])
        routes["/wp/v2/taxonomies/(?P<taxonomy>[\\w-]+)"] = self._route_data(
            "/wp/v2/taxonomies/(?P<taxonomy>[\\w-]+)", ["GET"]
        )
        for tax in self._taxonomies.values():
            base = f"/wp/v2/{tax.rest_base}"
            routes[base] = self._route_data(base, ["GET", "POST"])
            routes[base + "/(?P<id>[\\d]+)"] = self._route_data(
                base + "/(?P<id>[\\d]+)", ["GET", "POST", "PUT", "PATCH", "DELETE"]
            )
        return routes

    def _index_body(self, params: Mapping[str, Any]) -> bytes:
        key = (
            self._render_gen,
            self._home,
            self.name,
            self.description,
            self.pretty_permalinks,
            self.supports_modified_after,
        )
        if self._index_cache is not None and self._index_cache[0] == key:
            return self._index_cache[1]
        offset = self._gmt_offset
        data = {
            "name": self.name,
            "description": self.description,
            "url": self._home,
            "home": self._home,
            "gmt_offset": int(offset) if offset.is_integer() else offset,
            "timezone_string": self.timezone_string,
            "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1"],
            "authentication": [],
            "routes": self._routes(),
            "site_logo": 0,
            "site_icon": 0,
            "site_icon_url": "",
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }
        body = php_json(data)
        self._index_cache = (key, body)
        return body

    def _namespace_index(self) -> dict:
        routes = {k: v for k, v in self._routes().items() if k != "/"}
        return {"namespace": "wp/v2", "routes": routes, "_links": {"up": [{"href": self.api_root}]}}

    # types and taxonomies --------------------------------------------------

    def _type_data(self, pt: PostType) -> dict:
        return {
            "description": pt.description,
            "hierarchical": pt.hierarchical,
            "has_archive": pt.has_archive,
            "name": pt.name,
            "slug": pt.slug,
            "icon": pt.icon,
            "taxonomies": list(pt.taxonomies),
            "rest_base": pt.rest_base,
            "rest_namespace": "wp/v2",
            "_links": {
                "collection": [{"href": self.rest_url("wp/v2/types")}],
                "wp:items": [{"href": self.rest_url(f"wp/v2/{pt.rest_base}")}],
                "curies": CURIES,
            },
        }

    def _types_route(self, read: bool, parts: list[str]) -> tuple:
        return _registry_route(read, parts, self._types, self._type_data,
                               RestError("rest_type_invalid", "Invalid post type.", 404))

    def _tax_data(self, tax: Taxonomy) -> dict:
        return {
            "name": tax.name,
            "slug": tax.slug,
            "description": tax.description,
            "types": list(tax.types),
            "hierarchical": tax.hierarchical,
            "rest_base": tax.rest_base,
            "rest_namespace": "wp/v2",
            "_links": {
                "collection": [{"href": self.rest_url("wp/v2/taxonomies")}],
                "wp:items": [{"href": self.rest_url(f"wp/v2/{tax.rest_base}")}],
                "curies": CURIES,
            },
        }

    def _taxonomies_route(self, read: bool, parts: list[str]) -> tuple:
        return _registry_route(read, parts, self._taxonomies, self._tax_data,
                               RestError("rest_taxonomy_invalid", "Invalid taxonomy.", 404))


def _registry_route(read: bool, parts: list[str], registry: dict[str, Any],
                    describe: Callable[[Any], dict], unknown: RestError) -> tuple:
    """``/wp/v2/types`` and ``/wp/v2/taxonomies``: every entry by slug, or one by its slug."""
    if not read or len(parts) > 2:
        raise no_route()
    if len(parts) == 1:
        return 200, [("Allow", "GET")], {slug: describe(x) for slug, x in registry.items()}, None
    found = registry.get(parts[1])
    if found is None:
        raise unknown
    return 200, [("Allow", "GET")], describe(found), None
