"""The query-string side of a REST request, as ``WP_REST_Request`` handles it.

Parameter validation with WordPress's error bodies (:class:`Params`,
:class:`RestError`), the ``_fields`` filter and the pagination ``Link`` header
(docs/wordpress-rest.md §4, §5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from wpwatch.demo.php import (
    and_list,
    parse_list,
    parse_rest_date,
    php_bool,
    php_int,
    php_urlencode,
)


class RestError(Exception):
    def __init__(self, code: str, message: str, status: int, data: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.data = {"status": status, **(data or {})}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data}


def rest_forbidden() -> RestError:
    return RestError("rest_forbidden", "Sorry, you are not allowed to do that.", 401)


def invalid_post_id() -> RestError:
    return RestError("rest_post_invalid_id", "Invalid post ID.", 404)


def no_route() -> RestError:
    return RestError(
        "rest_no_route", "No route was found matching the URL and request method.", 404
    )


class Params:
    """Validated query parameters; errors are collected like WordPress does."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.values: dict[str, Any] = {}
        self.params: dict[str, str] = {}
        self.details: dict[str, Any] = {}

    def _fail(self, name: str, code: str, message: str, data: Any = None) -> None:
        self.params[name] = message
        self.details[name] = {"code": code, "message": message, "data": data}

    def has(self, name: str) -> bool:
        return name in self.raw

    def integer(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> None:
        if name not in self.raw:
            if default is not None:
                self.values[name] = default
            return
        n = php_int(self.raw[name])
        if n is None:
            self._fail(
                name, "rest_invalid_type", f"{name} is not of type integer.", {"param": name}
            )
            return
        if minimum is not None and maximum is not None and not minimum <= n <= maximum:
            self._fail(
                name,
                "rest_out_of_bounds",
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)",
            )
            return
        if minimum is not None and maximum is None and n < minimum:
            self._fail(
                name, "rest_out_of_bounds", f"{name} must be greater than or equal to {minimum}"
            )
            return
        self.values[name] = n

    def int_list(self, name: str) -> None:
        if name not in self.raw:
            return
        out = []
        for i, item in enumerate(parse_list(self.raw[name])):
            n = php_int(item)
            if n is None:
                param = f"{name}[{i}]"
                self._fail(
                    name, "rest_invalid_type", f"{param} is not of type integer.", {"param": param}
                )
                return
            out.append(n)
        self.values[name] = out

    def str_list(self, name: str) -> None:
        if name in self.raw:
            self.values[name] = parse_list(self.raw[name])

    def string(self, name: str) -> None:
        if name in self.raw:
            raw = self.raw[name]
            self.values[name] = raw[-1] if isinstance(raw, list) else str(raw)

    def enum(self, name: str, choices: Sequence[str], default: str | None = None) -> None:
        if name not in self.raw:
            if default is not None:
                self.values[name] = default
            return
        raw = self.raw[name]
        value = raw[-1] if isinstance(raw, list) else str(raw)
        if value not in choices:
            self._fail(name, "rest_not_in_enum", f"{name} is not one of {and_list(choices)}.")
            return
        self.values[name] = value

    def enum_list(
        self, name: str, choices: Sequence[str], default: list[str] | None = None
    ) -> None:
        if name not in self.raw:
            if default is not None:
                self.values[name] = default
            return
        items = parse_list(self.raw[name])
        for i, item in enumerate(items):
            if item not in choices:
                self._fail(
                    name, "rest_not_in_enum", f"{name}[{i}] is not one of {and_list(choices)}."
                )
                return
        self.values[name] = items

    def boolean(self, name: str) -> None:
        if name not in self.raw:
            return
        value = php_bool(self.raw[name])
        if value is None:
            self._fail(
                name, "rest_invalid_type", f"{name} is not of type boolean.", {"param": name}
            )
            return
        self.values[name] = value

    def date(self, name: str) -> None:
        if name not in self.raw:
            return
        raw = self.raw[name]
        value = raw[-1] if isinstance(raw, list) else str(raw)
        parsed = parse_rest_date(value)
        if parsed is None:
            self._fail(name, "rest_invalid_date", "Invalid date.")
            return
        self.values[name] = parsed

    def check(self) -> None:
        if self.params:
            raise RestError(
                "rest_invalid_param",
                "Invalid parameter(s): " + ", ".join(self.params),
                400,
                {"params": self.params, "details": self.details},
            )

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


def fields_tree(raw: Any) -> dict | None:
    fields = [f.strip() for f in parse_list(raw)]
    if not fields:
        return None
    tree: dict = {}
    for f in fields:
        parts = f.split(".")
        ref = tree
        skip_rest = False
        while len(parts) > 1:
            nxt = parts.pop(0)
            if ref.get(nxt) is True:
                # WordPress does `break 2` here: the remaining fields are ignored.
                skip_rest = True
                break
            ref = ref.setdefault(nxt, {})
        if skip_rest:
            break
        ref[parts[0]] = True
    return tree


def intersect(data: Any, tree: dict) -> Any:
    """``_rest_array_intersect_key_recursive``; an emptied object becomes ``[]`` as in PHP."""
    out = {}
    for key, value in data.items():
        sub = tree.get(key)
        if sub is None:
            continue
        if isinstance(sub, dict) and isinstance(value, dict):
            out[key] = intersect(value, sub)
        elif isinstance(sub, dict) and isinstance(value, list):
            out[key] = []  # a PHP list has numeric keys: nothing named matches
        else:
            out[key] = value
    return out if out else []


def pagination_links(collection: str, params: dict[str, Any], page: int, max_pages: int) -> str:
    """Core's ``add_query_arg(urlencode_deep($request->get_query_params()), …)``."""
    if page <= 1 and max_pages <= page:
        return ""
    url, _, query = collection.partition("?")
    ordered: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    for key, value in params.items():
        ordered[key] = value

    def build(target_page: int) -> str:
        items = dict(ordered)
        items["page"] = str(target_page)
        out: list[str] = []
        for key, value in items.items():
            if isinstance(value, list):
                out.extend(f"{key}%5B{i}%5D={php_urlencode(v)}" for i, v in enumerate(value))
            else:
                out.append(f"{key}={php_urlencode(value)}")
        return url + "?" + "&".join(out)

    links = []
    if page > 1:
        links.append(f'<{build(min(page - 1, max_pages))}>; rel="prev"')
    if max_pages > page:
        links.append(f'<{build(page + 1)}>; rel="next"')
    return ", ".join(links)
