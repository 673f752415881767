"""A small WordPress-compatible HTTP server: the demo site and the fast benchmark target.

It answers the anonymous, read-only part of the WordPress REST API the way a
real WordPress 6.1 does (see ``/work/shared/wordpress-facts.md`` and core's
``class-wp-rest-posts-controller.php``): the same routes, status codes, error
bodies, headers, date formats (no ``Z``), strict ``>``/``<`` date filters on the
*site-local* columns, ``400`` past the last page, ``include=`` silently dropping
non-public ids, ``_fields`` filtering, ``Link`` pagination headers and the
``?rest_route=`` fallback.  It also serves a home page with the
``rel="https://api.w.org/"`` link, ``robots.txt``, an RSS feed and core sitemaps.

Only the standard library is used.  Three layers:

* :class:`DemoSite` is one WordPress site held in memory (posts, pages, terms,
  a clock and a timezone) with a thread-safe Python API to change it the way
  the editor, importers, plugins and cron do (``edit``, ``touch``, ``trash``,
  ``set_terms`` …).  ``site.handle(method, target)`` answers one request and
  is usable without any socket.
* :class:`DemoServer` puts sites on HTTP listeners: several sites on one
  ``host:port`` under path prefixes (subdirectory installs such as ``/en``) or
  each on its own address (``127.0.0.2:PORT``), served from background threads.
* :func:`load_demo_site` builds the bundled demo data set; :func:`main` serves
  it (``python -m wpwatch.demo.server --port 8765``).

Each post's full JSON is rendered once per modification and cached as bytes,
so a ``per_page=100`` page is a join of cached byte strings.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import logging
import math
import re
import selectors
import socket
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Self
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit

logger = logging.getLogger(__name__)

__all__ = [
    "DemoServer",
    "DemoSite",
    "ManualClock",
    "Post",
    "PostType",
    "Response",
    "Taxonomy",
    "Term",
    "apply_demo_changes",
    "load_demo_site",
    "main",
]

WP_VERSION = "6.1.9"
STATUSES = ("publish", "future", "draft", "pending", "private", "trash")
_ALL_STATUS_ENUM = (
    "publish",
    "future",
    "draft",
    "pending",
    "private",
    "trash",
    "auto-draft",
    "inherit",
    "request-pending",
    "request-confirmed",
    "request-failed",
    "request-completed",
    "any",
)
_DATE_FMT = "%Y-%m-%dT%H:%M:%S"
_REST_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}(?::\d{2})?)?$"
)
_NUMERIC_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CURIES = [{"name": "wp", "href": "https://api.w.org/{rel}", "templated": True}]
_REVISION_FIELDS = ("title", "content", "excerpt")


# ---------------------------------------------------------------------------
# small helpers


def _fmt(dt: datetime) -> str:
    return dt.strftime(_DATE_FMT)


def _php_json(obj: Any) -> bytes:
    """JSON the way PHP's ``json_encode`` writes it: ASCII only, ``\\/`` for ``/``."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def _php_urlencode(value: str) -> str:
    return quote_plus(value, safe="").replace("~", "%7E")


def _utc_naive(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.replace(microsecond=0)


def _and_list(items: Sequence[str]) -> str:
    """PHP ``wp_sprintf_l('%l', …)``: "a, b, and c" / "a and b"."""
    items = list(items)
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _parse_list(raw: Any) -> list[str]:
    """``wp_parse_list``: split a string on commas and whitespace."""
    if isinstance(raw, list):
        out: list[str] = []
        for item in raw:
            out.extend(_parse_list(item))
        return out
    return [p for p in re.split(r"[\s,]+", str(raw)) if p]


def _php_int(raw: Any) -> int | None:
    """``rest_is_integer``: numeric and integral ("2", "2.0", "1e1"); else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    text = str(raw)
    if not _NUMERIC_RE.match(text):
        return None
    value = float(text)
    if not value.is_integer():
        return None
    return int(value)


def _php_bool(raw: Any) -> bool | None:
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    return None


def _parse_rest_date(value: str) -> tuple[datetime, timedelta | None] | None:
    """Parse an RFC 3339 date the way ``rest_parse_date`` accepts it.

    Returns the naive wall-clock time and its UTC offset (None when the value
    carries none), or None when WordPress would answer ``Invalid date.``.
    """
    m = _REST_DATE_RE.match(value)
    if not m:
        return None
    try:
        naive = datetime(*(int(m.group(i)) for i in range(1, 7)))
    except ValueError:
        return None
    tz = m.group(7)
    if tz is None:
        return naive, None
    if tz == "Z":
        return naive, timedelta(0)
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return naive, sign * timedelta(hours=hours, minutes=minutes)


_TAG_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def _strip_tags(text: str) -> str:
    return _TAG_RE.sub(" ", text)


def _auto_excerpt(content: str, words: int = 55) -> str:
    """``wp_trim_excerpt`` + ``wpautop``: 55 words then `` [&hellip;]``."""
    parts = _strip_tags(content).split()
    text = " ".join(parts[:words])
    if len(parts) > words:
        text += " [&hellip;]"
    return f"<p>{text}</p>\n" if text else ""


def _slugify(text: str) -> str:
    """A close cousin of ``sanitize_title``: accents removed, non-Latin kept percent-encoded."""
    text = html.unescape(_strip_tags(text))
    text = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    for ch in text:
        if unicodedata.combining(ch):
            continue
        if ch.isascii():
            out.append(ch.lower() if ch.isalnum() else "-")
        elif ch.isalnum():
            out.append("".join(f"%{b:02x}" for b in ch.encode()))
        else:
            out.append("-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-")
    return slug[:200].rstrip("-")


def _xml(text: str) -> str:
    return html.escape(text, quote=True)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _rfc822(utc_naive: datetime) -> str:
    return utc_naive.strftime("%a, %d %b %Y %H:%M:%S +0000")


def _plain(text: str) -> str:
    """Rendered HTML title → text for feeds and pages (entities decoded, tags dropped)."""
    return html.unescape(_strip_tags(text)).strip()


# ---------------------------------------------------------------------------
# clock


class ManualClock:
    """A settable clock for deterministic tests: ``site = DemoSite(clock=ManualClock(...))``.

    ``tick`` seconds are added after each reading, so consecutive changes land
    in different seconds without the test moving time by hand.
    """

    def __init__(self, start: datetime | str = "2024-01-01T00:00:00Z", *, tick: float = 0.0):
        self._lock = threading.Lock()
        self._now = self._coerce(start)
        self.tick = timedelta(seconds=tick)

    @staticmethod
    def _coerce(value: datetime | str) -> datetime:
        if isinstance(value, str):
            parsed = _parse_rest_date(value)
            if parsed is None:
                raise ValueError(f"not an RFC 3339 date: {value!r}")
            naive, offset = parsed
            return naive - (offset or timedelta(0))
        return _utc_naive(value)

    def __call__(self) -> datetime:
        with self._lock:
            now = self._now
            self._now = now + self.tick
            return now.replace(tzinfo=UTC)

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        """Move forward (``advance(5)``, ``advance(minutes=2)``); returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now.replace(tzinfo=UTC)

    def set(self, when: datetime | str) -> None:
        with self._lock:
            self._now = self._coerce(when)


def _system_clock() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------
# the data model


@dataclass
class PostType:
    """A post type as ``/wp/v2/types`` shows it.

    ``kind`` is ``"posts"`` for a real collection, ``"empty"`` for one that
    answers ``[]`` (media, blocks, navigation) and ``"forbidden"`` for one that
    answers 401 to anonymous clients (``forbidden`` holds code and message).
    """

    slug: str
    rest_base: str
    name: str
    hierarchical: bool = False
    taxonomies: list[str] = field(default_factory=list)
    supports: frozenset[str] = frozenset(
        {"title", "editor", "author", "excerpt", "thumbnail", "comments", "revisions"}
    )
    icon: str | None = None
    kind: str = "posts"
    forbidden: tuple[str, str] | None = None
    has_archive: bool | str = False
    description: str = ""


@dataclass
class Taxonomy:
    slug: str
    rest_base: str
    name: str
    types: list[str]
    hierarchical: bool = False
    forbidden: tuple[str, str] | None = None
    description: str = ""


@dataclass
class Term:
    id: int
    taxonomy: str
    name: str
    slug: str
    parent: int = 0
    description: str = ""


@dataclass(eq=False)
class Post:
    """One row of ``wp_posts`` (plus its terms), stored with both date columns.

    ``date``/``modified`` are the site-local columns and ``date_gmt``/
    ``modified_gmt`` the UTC ones, all naive datetimes.  Like WordPress, the
    local columns are written once with the offset in force at that moment;
    changing the site timezone later does not rewrite them.  ``title``,
    ``content`` and ``excerpt`` are the rendered HTML; ``excerpt=None`` means
    "generate from the content" as WordPress does.
    """

    id: int
    type: str
    status: str
    date: datetime
    date_gmt: datetime
    modified: datetime
    modified_gmt: datetime
    slug: str = ""
    title: str = ""
    content: str = ""
    excerpt: str | None = None
    author: int = 1
    featured_media: int = 0
    sticky: bool = False
    password: str = ""
    parent: int = 0
    menu_order: int = 0
    comment_status: str = "open"
    ping_status: str = "open"
    template: str = ""
    format: str = "standard"
    meta: Any = None
    guid: str | None = None
    terms: dict[str, list[int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    revisions: list[int] = field(default_factory=list)
    floating_date: bool = False
    trashed_status: str | None = None
    # a copy of the title/content/excerpt stored in the last revision
    revision_snapshot: tuple[str, str, str | None] | None = None
    # render cache: (key, full dict, full bytes)
    _cache: tuple[Any, dict, bytes] | None = field(default=None, repr=False)
    _rev: int = 0


class Response:
    """One HTTP answer: status, header list (repeats allowed) and body bytes."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ):
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class _RestError(Exception):
    def __init__(self, code: str, message: str, status: int, data: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.data = {"status": status, **(data or {})}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "data": self.data}


def _forbidden() -> _RestError:
    return _RestError("rest_forbidden", "Sorry, you are not allowed to do that.", 401)


def _invalid_id() -> _RestError:
    return _RestError("rest_post_invalid_id", "Invalid post ID.", 404)


def _no_route() -> _RestError:
    return _RestError(
        "rest_no_route", "No route was found matching the URL and request method.", 404
    )


# ---------------------------------------------------------------------------
# request parameter validation (WP_REST_Request::has_valid_params + sanitize_params)


class _Params:
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
        n = _php_int(self.raw[name])
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
        for i, item in enumerate(_parse_list(self.raw[name])):
            n = _php_int(item)
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
            self.values[name] = _parse_list(self.raw[name])

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
            self._fail(name, "rest_not_in_enum", f"{name} is not one of {_and_list(choices)}.")
            return
        self.values[name] = value

    def enum_list(
        self, name: str, choices: Sequence[str], default: list[str] | None = None
    ) -> None:
        if name not in self.raw:
            if default is not None:
                self.values[name] = default
            return
        items = _parse_list(self.raw[name])
        for i, item in enumerate(items):
            if item not in choices:
                self._fail(
                    name, "rest_not_in_enum", f"{name}[{i}] is not one of {_and_list(choices)}."
                )
                return
        self.values[name] = items

    def boolean(self, name: str) -> None:
        if name not in self.raw:
            return
        value = _php_bool(self.raw[name])
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
        parsed = _parse_rest_date(value)
        if parsed is None:
            self._fail(name, "rest_invalid_date", "Invalid date.")
            return
        self.values[name] = parsed

    def check(self) -> None:
        if self.params:
            raise _RestError(
                "rest_invalid_param",
                "Invalid parameter(s): " + ", ".join(self.params),
                400,
                {"params": self.params, "details": self.details},
            )

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


# ---------------------------------------------------------------------------
# _fields (rest_filter_response_fields)


def _fields_tree(raw: Any) -> dict | None:
    fields = [f.strip() for f in _parse_list(raw)]
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


def _intersect(data: Any, tree: dict) -> Any:
    """``_rest_array_intersect_key_recursive``; an emptied object becomes ``[]`` as in PHP."""
    out = {}
    for key, value in data.items():
        sub = tree.get(key)
        if sub is None:
            continue
        if isinstance(sub, dict) and isinstance(value, dict):
            out[key] = _intersect(value, sub)
        elif isinstance(sub, dict) and isinstance(value, list):
            out[key] = []  # a PHP list has numeric keys: nothing named matches
        else:
            out[key] = value
    return out if out else []


# ---------------------------------------------------------------------------
# the site


def _default_types() -> dict[str, PostType]:
    post_supports = frozenset(
        {
            "title",
            "editor",
            "author",
            "excerpt",
            "thumbnail",
            "comments",
            "revisions",
            "post-formats",
        }
    )
    page_supports = frozenset(
        {
            "title",
            "editor",
            "author",
            "excerpt",
            "thumbnail",
            "comments",
            "revisions",
            "page-attributes",
        }
    )
    tmpl = (
        "rest_cannot_manage_templates",
        "Sorry, you are not allowed to access the templates on this site.",
    )
    types = [
        PostType(
            "post",
            "posts",
            "Posts",
            taxonomies=["category", "post_tag"],
            supports=post_supports,
            icon="dashicons-admin-post",
        ),
        PostType(
            "page",
            "pages",
            "Pages",
            hierarchical=True,
            supports=page_supports,
            icon="dashicons-admin-page",
        ),
        PostType("attachment", "media", "Media", icon="dashicons-admin-media", kind="empty"),
        PostType(
            "nav_menu_item",
            "menu-items",
            "Navigation Menu Items",
            taxonomies=["nav_menu"],
            icon="dashicons-admin-post",
            kind="forbidden",
            forbidden=("rest_cannot_view", "Sorry, you are not allowed to view menu items."),
        ),
        PostType(
            "wp_block", "blocks", "Reusable blocks", icon="dashicons-admin-post", kind="empty"
        ),
        PostType(
            "wp_template",
            "templates",
            "Templates",
            icon="dashicons-admin-post",
            kind="forbidden",
            forbidden=tmpl,
        ),
        PostType(
            "wp_template_part",
            "template-parts",
            "Template Parts",
            icon="dashicons-admin-post",
            kind="forbidden",
            forbidden=tmpl,
        ),
        PostType(
            "wp_navigation",
            "navigation",
            "Navigation Menus",
            icon="dashicons-admin-post",
            kind="empty",
        ),
    ]
    return {t.slug: t for t in types}


def _default_taxonomies() -> dict[str, Taxonomy]:
    return {
        "category": Taxonomy("category", "categories", "Categories", ["post"], hierarchical=True),
        "post_tag": Taxonomy("post_tag", "tags", "Tags", ["post"]),
        "nav_menu": Taxonomy(
            "nav_menu",
            "menus",
            "Navigation Menus",
            ["nav_menu_item"],
            forbidden=("rest_cannot_view", "Sorry, you are not allowed to view menus."),
        ),
    }


_REST_MODES = ("open", "disabled", "restricted", "blocked")


class DemoSite:
    """One WordPress site in memory, with a thread-safe API to change it.

    Parameters
    ----------
    name, description:
        ``blogname`` and ``blogdescription``.
    gmt_offset:
        Site timezone as hours east of UTC (fixed, no DST).  Settable later;
        like WordPress, already stored local dates are not rewritten.
    timezone_string:
        Shown in the index; defaults to ``"UTC"`` for offset 0 and ``""`` otherwise
        (a manual offset).
    clock:
        ``() -> datetime`` (aware, or naive UTC).  Defaults to the system
        clock; pass a :class:`ManualClock` in tests.
    pretty_permalinks:
        ``False`` gives a site without a permalink structure: ``/wp-json/``
        is a 404, the API root is ``/index.php?rest_route=/`` and links are ``?p=ID``.
    rest_mode:
        ``"open"``; ``"disabled"`` (a "Disable REST API" plugin: 401
        ``rest_cannot_access`` everywhere); ``"restricted"`` (Solid Security:
        401 ``itsec_rest_api_access_restricted`` on content routes, index open);
        ``"blocked"`` (web-server rule: HTML 403 on every REST URL).
    supports_modified_after:
        ``False`` acts like WordPress before 5.7: ``modified_after`` and
        ``modified_before`` are unknown parameters and silently ignored.
    authors:
        ``{user id: display name}`` used by the feed.
    robots_txt:
        Replaces the default ``robots.txt`` body.
    """

    def __init__(
        self,
        name: str = "Demo Site",
        *,
        description: str = "",
        gmt_offset: float = 0,
        timezone_string: str | None = None,
        clock: Callable[[], datetime] | None = None,
        pretty_permalinks: bool = True,
        rest_mode: str = "open",
        supports_modified_after: bool = True,
        authors: Mapping[int, str] | None = None,
        robots_txt: str | None = None,
        language: str = "en-US",
        home: str = "http://localhost",
    ):
        if rest_mode not in _REST_MODES:
            raise ValueError(
                f"rest_mode must be one of {', '.join(_REST_MODES)}, not {rest_mode!r}"
            )
        self._lock = threading.RLock()
        self.name = name
        self.description = description
        self._gmt_offset = float(gmt_offset)
        self._timezone_string = timezone_string
        self.clock: Callable[[], datetime] = clock or _system_clock
        self.pretty_permalinks = pretty_permalinks
        self.rest_mode = rest_mode
        self.supports_modified_after = supports_modified_after
        self.authors: dict[int, str] = dict(authors or {1: "admin"})
        self.robots_txt = robots_txt
        self.language = language
        self._home = home.rstrip("/")
        self._mounted = False
        self._types = _default_types()
        self._taxonomies = _default_taxonomies()
        self._terms: dict[str, dict[int, Term]] = {t: {} for t in self._taxonomies}
        self._next_term_id = 1
        self._posts: dict[int, Post] = {}
        self._next_id = 1
        self._gen = 0  # bumps on every post change (sort caches)
        self._render_gen = 0  # bumps on site-wide changes that alter rendered posts
        self.add_term("category", "Uncategorized", slug="uncategorized")
        self._sort_cache: dict[tuple, tuple[int, list[Post]]] = {}
        self._index_cache: tuple[Any, bytes] | None = None
        self._failures: deque[dict] = deque()
        # statistics
        self._stats_lock = threading.Lock()
        self._requests = 0
        self._bytes = 0
        self._body_bytes = 0
        self._by_status: dict[int, int] = {}
        self.request_log: deque[tuple[str, str, int, int]] = deque(maxlen=10000)

    # -- settings ----------------------------------------------------------

    @property
    def gmt_offset(self) -> float:
        return self._gmt_offset

    @gmt_offset.setter
    def gmt_offset(self, hours: float) -> None:
        """Change the site timezone.  Stored local dates stay as they are (like WordPress)."""
        with self._lock:
            self._gmt_offset = float(hours)
            self._render_gen += 1

    @property
    def timezone_string(self) -> str:
        if self._timezone_string is not None:
            return self._timezone_string
        return "UTC" if self._gmt_offset == 0 else ""

    @timezone_string.setter
    def timezone_string(self, value: str | None) -> None:
        with self._lock:
            self._timezone_string = value
            self._render_gen += 1

    @property
    def home(self) -> str:
        """The site address without trailing slash, e.g. ``http://127.0.0.1:8765/en``."""
        return self._home

    @home.setter
    def home(self, url: str) -> None:
        with self._lock:
            self._home = url.rstrip("/")
            self._render_gen += 1

    @property
    def url(self) -> str:
        """The site address with a trailing slash (what a user types)."""
        return self._home + "/"

    @property
    def api_root(self) -> str:
        if self.pretty_permalinks:
            return self._home + "/wp-json/"
        return self._home + "/index.php?rest_route=/"

    def rest_url(self, route: str, query: str = "") -> str:
        route = "/" + route.lstrip("/")
        if self.pretty_permalinks:
            url = self._home + "/wp-json" + route
            return url + ("?" + query if query else "")
        url = self._home + "/index.php?rest_route=" + route
        return url + ("&" + query if query else "")

    def now(self) -> datetime:
        """The site clock in UTC, whole seconds (aware datetime)."""
        return _utc_naive(self.clock()).replace(tzinfo=UTC)

    def _now_cols(self) -> tuple[datetime, datetime]:
        gmt = _utc_naive(self.clock())
        return gmt + self._offset(), gmt

    def _offset(self) -> timedelta:
        return timedelta(hours=self._gmt_offset)

    def _coerce_date(self, value: datetime | str) -> tuple[datetime, datetime]:
        """(local, gmt) for a Python-side date: aware → converted, naive/no offset → site-local."""
        if isinstance(value, str):
            parsed = _parse_rest_date(value)
            if parsed is None:
                raise ValueError(f"not an RFC 3339 date: {value!r}")
            naive, offset = parsed
            if offset is None:
                return naive, naive - self._offset()
            gmt = naive - offset
            return gmt + self._offset(), gmt
        if value.tzinfo is None:
            local = value.replace(microsecond=0)
            return local, local - self._offset()
        gmt = _utc_naive(value)
        return gmt + self._offset(), gmt

    # -- types, taxonomies, terms -------------------------------------------

    def register_type(
        self,
        slug: str,
        *,
        rest_base: str | None = None,
        name: str | None = None,
        hierarchical: bool = False,
        taxonomies: Iterable[str] = ("category", "post_tag"),
        supports: Iterable[str] | None = None,
    ) -> PostType:
        """Add a custom post type (``register_type("book", rest_base="books")``)."""
        with self._lock:
            pt = PostType(
                slug,
                rest_base or slug,
                name or slug.title() + "s",
                hierarchical=hierarchical,
                taxonomies=list(taxonomies),
                icon=None,
            )
            if supports is not None:
                pt.supports = frozenset(supports)
            self._types[slug] = pt
            for tax in pt.taxonomies:
                if tax in self._taxonomies and slug not in self._taxonomies[tax].types:
                    self._taxonomies[tax].types.append(slug)
            self._render_gen += 1
            self._gen += 1
            return pt

    def register_taxonomy(
        self,
        slug: str,
        *,
        rest_base: str | None = None,
        name: str | None = None,
        types: Iterable[str] = ("post",),
        hierarchical: bool = False,
    ) -> Taxonomy:
        """Add a custom taxonomy; posts of ``types`` get a ``rest_base`` field of term ids."""
        with self._lock:
            tax = Taxonomy(
                slug,
                rest_base or slug,
                name or slug.title(),
                list(types),
                hierarchical=hierarchical,
            )
            self._taxonomies[slug] = tax
            self._terms.setdefault(slug, {})
            for t in tax.types:
                if t in self._types and slug not in self._types[t].taxonomies:
                    self._types[t].taxonomies.append(slug)
            self._render_gen += 1
            return tax

    @property
    def types(self) -> dict[str, PostType]:
        return dict(self._types)

    @property
    def taxonomies(self) -> dict[str, Taxonomy]:
        return dict(self._taxonomies)

    def add_term(
        self,
        taxonomy: str,
        name: str,
        *,
        slug: str | None = None,
        id: int | None = None,
        parent: int = 0,
        description: str = "",
    ) -> int:
        """Create a term; returns its id (term ids are shared across taxonomies, like core)."""
        with self._lock:
            if taxonomy not in self._taxonomies:
                raise KeyError(f"unknown taxonomy {taxonomy!r}")
            term_id = id if id is not None else self._next_term_id
            if any(term_id in terms for terms in self._terms.values()):
                raise ValueError(f"term id {term_id} already exists")
            self._next_term_id = max(self._next_term_id, term_id + 1)
            self._terms[taxonomy][term_id] = Term(
                term_id, taxonomy, name, slug or _slugify(name), parent, description
            )
            self._render_gen += 1
            return term_id

    def rename_term(self, term_id: int, name: str, *, slug: str | None = None) -> None:
        """``wp_update_term``: posts' ``modified`` does not move."""
        with self._lock:
            term = self._find_term(term_id)
            term.name = name
            if slug is not None:
                term.slug = slug
            self._render_gen += 1

    def _find_term(self, term_id: int) -> Term:
        for terms in self._terms.values():
            if term_id in terms:
                return terms[term_id]
        raise KeyError(f"no term {term_id}")

    def _term_ids(self, taxonomy: str, values: Iterable[int | str]) -> list[int]:
        ids: list[int] = []
        for value in values:
            if isinstance(value, int):
                ids.append(value)
                continue
            found = [
                t.id for t in self._terms[taxonomy].values() if t.name == value or t.slug == value
            ]
            ids.append(found[0] if found else self.add_term(taxonomy, value))
        return ids

    def _tax_by_base(self, ptype: PostType) -> dict[str, str]:
        return {self._taxonomies[t].rest_base: t for t in ptype.taxonomies if t in self._taxonomies}

    # -- changing posts -------------------------------------------------------

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
        now_gmt = _utc_naive(self.clock())
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
                post.slug = _slugify(title) or str(post_id)
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

    def _get(self, post_id: int) -> Post:
        try:
            return self._posts[post_id]
        except KeyError:
            raise KeyError(f"no post {post_id}") from None

    def _post_type(self, slug: str) -> PostType:
        pt = self._types.get(slug)
        if pt is None or pt.kind != "posts":
            raise ValueError(f"unknown or read-only post type {slug!r}")
        return pt

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
                    post.slug = _slugify(post.title) or str(post.id)
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
                    _slugify(post.title) or str(post.id), post.type, post.id
                )
            self._changed(post)

    def run_cron(self) -> list[int]:
        """Publish every ``future`` post whose date has come; returns their ids."""
        with self._lock:
            now_gmt = _utc_naive(self.clock())
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
                return (datetime.strptime(local, _DATE_FMT), datetime.strptime(gmt, _DATE_FMT))
            if gmt:
                g = datetime.strptime(gmt, _DATE_FMT)
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

    # -- reading (Python side) ----------------------------------------------

    def __len__(self) -> int:
        return len(self._posts)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._posts

    def ids(self, type: str | None = "post", status: str | None = "publish") -> list[int]:
        """Post ids, ascending, filtered by type and status (None = any)."""
        with self._lock:
            return sorted(
                p.id
                for p in self._posts.values()
                if (type is None or p.type == type) and (status is None or p.status == status)
            )

    def post(self, post_id: int) -> Post:
        """The stored :class:`Post` (do not mutate it; use the methods)."""
        with self._lock:
            return self._get(post_id)

    def record(self, post_id: int) -> dict:
        """The full REST record (view context) whatever the status, as a fresh dict."""
        with self._lock:
            return json.loads(self._rendered(self._get(post_id))[1])

    # -- statistics and fault injection -------------------------------------

    def stats(self) -> dict[str, Any]:
        """Requests and bytes served for this site since start (or ``reset_stats``).

        ``bytes`` counts status line, headers and body; ``body_bytes`` the bodies.
        """
        with self._stats_lock:
            return {
                "requests": self._requests,
                "bytes": self._bytes,
                "body_bytes": self._body_bytes,
                "by_status": dict(self._by_status),
            }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._requests = self._bytes = self._body_bytes = 0
            self._by_status.clear()
            self.request_log.clear()

    def _count(self, method: str, target: str, status: int, nbytes: int, body: int) -> None:
        with self._stats_lock:
            self._requests += 1
            self._bytes += nbytes
            self._body_bytes += body
            self._by_status[status] = self._by_status.get(status, 0) + 1
            self.request_log.append((method, target, status, body))

    def fail_next(
        self,
        status: int = 503,
        *,
        count: int = 1,
        retry_after: int | str | None = None,
        path_contains: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (429, 5xx, a
        Cloudflare-like 403 with ``headers={"cf-mitigated": "challenge"}`` …)."""
        hdrs = list((headers or {}).items())
        if retry_after is not None:
            hdrs.append(("Retry-After", str(retry_after)))
        with self._lock:
            self._failures.append(
                {
                    "status": status,
                    "left": count,
                    "match": path_contains,
                    "headers": hdrs,
                    "body": body.encode() if isinstance(body, str) else body,
                }
            )

    def clear_failures(self) -> None:
        """Forget every failure queued by ``fail_next``: the site is healthy again."""
        with self._lock:
            self._failures.clear()

    def _injected(self, target: str) -> Response | None:
        with self._lock:
            for failure in self._failures:
                if failure["match"] is None or failure["match"] in target:
                    failure["left"] -= 1
                    if failure["left"] <= 0:
                        self._failures.remove(failure)
                    headers = [("Content-Type", "text/html; charset=UTF-8"), *failure["headers"]]
                    return Response(failure["status"], headers, failure["body"])
        return None

    # -- rendering posts ------------------------------------------------------

    def permalink(self, post: Post) -> str:
        if not self.pretty_permalinks or not post.slug:
            if post.type == "page":
                return f"{self._home}/?page_id={post.id}"
            if post.type == "post":
                return f"{self._home}/?p={post.id}"
            return f"{self._home}/?post_type={post.type}&p={post.id}"
        if post.type == "post":
            return f"{self._home}/{post.slug}/"
        if post.type == "page":
            parts = [post.slug]
            seen = {post.id}
            parent = self._posts.get(post.parent)
            while parent is not None and parent.id not in seen:
                parts.insert(0, parent.slug)
                seen.add(parent.id)
                parent = self._posts.get(parent.parent)
            return f"{self._home}/{'/'.join(parts)}/"
        return f"{self._home}/{post.type}/{post.slug}/"

    def _term_link(self, term: Term) -> str:
        if not self.pretty_permalinks:
            key = {"category": "cat", "post_tag": "tag"}.get(term.taxonomy, term.taxonomy)
            value = term.id if key == "cat" else term.slug
            return f"{self._home}/?{key}={value}"
        base = {"category": "category", "post_tag": "tag"}.get(term.taxonomy, term.taxonomy)
        return f"{self._home}/{base}/{term.slug}/"

    def _render_key(self, post: Post) -> tuple:
        return (self._render_gen, post._rev, self._home, self.pretty_permalinks)

    def _rendered(self, post: Post) -> tuple[dict, bytes]:
        key = self._render_key(post)
        cache = post._cache
        if cache is not None and cache[0] == key:
            return cache[1], cache[2]
        data = self._render_post(post)
        body = _php_json(data)
        post._cache = (key, data, body)
        return data, body

    def _render_post(self, p: Post) -> dict:
        pt = self._types[p.type]
        sup = pt.supports
        base = pt.rest_base
        protected = bool(p.password)
        d: dict[str, Any] = {
            "id": p.id,
            "date": _fmt(p.date),
            "date_gmt": _fmt(p.date_gmt),
            "guid": {
                "rendered": p.guid
                or (
                    f"{self._home}/?page_id={p.id}"
                    if p.type == "page"
                    else f"{self._home}/?p={p.id}"
                )
            },
            "modified": _fmt(p.modified),
            "modified_gmt": _fmt(p.modified_gmt),
            "slug": p.slug,
            "status": p.status,
            "type": p.type,
            "link": self.permalink(p),
        }
        if "title" in sup:
            d["title"] = {"rendered": ("Protected: " + p.title) if protected else p.title}
        if "editor" in sup:
            d["content"] = {"rendered": "" if protected else p.content, "protected": protected}
        if "excerpt" in sup:
            excerpt = p.excerpt if p.excerpt is not None else _auto_excerpt(p.content)
            d["excerpt"] = {"rendered": "" if protected else excerpt, "protected": protected}
        if "author" in sup:
            d["author"] = p.author
        if "thumbnail" in sup:
            d["featured_media"] = p.featured_media
        if pt.hierarchical:
            d["parent"] = p.parent
        if "page-attributes" in sup:
            d["menu_order"] = p.menu_order
        if "comments" in sup:
            d["comment_status"] = p.comment_status
            d["ping_status"] = p.ping_status
        if p.type == "post":
            d["sticky"] = p.sticky
        d["template"] = p.template
        if "post-formats" in sup:
            d["format"] = p.format
        d["meta"] = p.meta if p.meta is not None else []
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is not None and tax.forbidden is None:
                d[tax.rest_base] = list(p.terms.get(tax_slug, []))
        d["class_list"] = self._class_list(p, pt)
        for key, value in p.extra.items():
            d.setdefault(key, value)
        d["_links"] = self._post_links(p, pt, base)
        return d

    def _class_list(self, p: Post, pt: PostType) -> list[str]:
        classes = [f"post-{p.id}", p.type, f"type-{p.type}", f"status-{p.status}"]
        if "post-formats" in pt.supports:
            classes.append(f"format-{p.format or 'standard'}")
        if p.password:
            classes.append("post-password-required")
        if p.featured_media:
            classes.append("has-post-thumbnail")
        classes.append("hentry")
        for tax_slug in pt.taxonomies:
            terms = self._terms.get(tax_slug, {})
            prefix = {"category": "category", "post_tag": "tag"}.get(tax_slug, tax_slug)
            for term_id in p.terms.get(tax_slug, []):
                term = terms.get(term_id)
                if term is not None:
                    classes.append(f"{prefix}-{term.slug}")
        return classes

    def _post_links(self, p: Post, pt: PostType, base: str) -> dict:
        self_url = self.rest_url(f"wp/v2/{base}/{p.id}")
        links: dict[str, Any] = {
            "self": [{"href": self_url, "targetHints": {"allow": ["GET"]}}],
            "collection": [{"href": self.rest_url(f"wp/v2/{base}")}],
            "about": [{"href": self.rest_url(f"wp/v2/types/{p.type}")}],
        }
        if "author" in pt.supports and p.author:
            links["author"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/users/{p.author}")}
            ]
        if "comments" in pt.supports:
            links["replies"] = [
                {"embeddable": True, "href": self.rest_url("wp/v2/comments", f"post={p.id}")}
            ]
        if "revisions" in pt.supports:
            links["version-history"] = [
                {"count": len(p.revisions), "href": self_url + "/revisions"}
            ]
            if p.revisions:
                last = p.revisions[-1]
                links["predecessor-version"] = [
                    {"id": last, "href": f"{self_url}/revisions/{last}"}
                ]
        if pt.hierarchical and p.parent:
            links["up"] = [{"embeddable": True, "href": self.rest_url(f"wp/v2/{base}/{p.parent}")}]
        if p.featured_media:
            links["wp:featuredmedia"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/media/{p.featured_media}")}
            ]
        links["wp:attachment"] = [{"href": self.rest_url("wp/v2/media", f"parent={p.id}")}]
        terms = []
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is None or tax.forbidden is not None:
                continue
            terms.append(
                {
                    "taxonomy": tax_slug,
                    "embeddable": True,
                    "href": self.rest_url(f"wp/v2/{tax.rest_base}", f"post={p.id}"),
                }
            )
        if terms:
            links["wp:term"] = terms
        links["curies"] = _CURIES
        return links

    # -- HTTP entry point -------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Answer one request for this site.  ``target`` is the path (relative to the
        site's home) plus query, e.g. ``/wp-json/wp/v2/posts?per_page=5``."""
        headers = headers or {}
        method = method.upper()
        injected = self._injected(target)
        if injected is not None:
            return injected
        path, _, query = target.partition("?")
        path = unquote(path) or "/"
        pairs = parse_qsl(query, keep_blank_values=True)
        params = _php_get(pairs)
        rest_route = params.get("rest_route")
        if isinstance(rest_route, str) and rest_route:
            return self._serve_rest(method, rest_route, params)
        low = path.lower()
        if self.pretty_permalinks and (low == "/wp-json" or low.startswith("/wp-json/")):
            return self._serve_rest(method, path[len("/wp-json") :] or "/", params)
        if self.pretty_permalinks and (
            low == "/index.php/wp-json" or low.startswith("/index.php/wp-json/")
        ):
            return self._serve_rest(method, path[len("/index.php/wp-json") :] or "/", params)
        return self._serve_front(method, path, params, headers)

    # -- REST --------------------------------------------------------------------

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
            return Response(
                403,
                [("Content-Type", "text/html; charset=iso-8859-1")],
                b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>'
                b"<title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>You "
                b"don't have permission to access this resource.</p></body></html>\n",
            )
        headers = self._rest_headers()
        try:
            if self.rest_mode == "disabled":
                raise _RestError(
                    "rest_cannot_access",
                    "DRA: Only authenticated users can access the REST API.",
                    401,
                )
            if self.rest_mode == "restricted" and route not in ("/", "/wp/v2"):
                raise _RestError(
                    "itsec_rest_api_access_restricted",
                    "You do not have sufficient permission to access this endpoint. Access to "
                    "REST API requests is restricted by Solid Security Settings.",
                    401,
                )
            status, extra, data, body = self._dispatch(method, route, params)
        except _RestError as err:
            status, extra, data, body = err.status, [], err.body(), None
        # rest_filter_response_fields (not on errors)
        fields = params.get("_fields")
        if status < 400 and fields is not None and body is None:
            tree = _fields_tree(fields)
            if tree is not None:
                data = (
                    [_intersect(item, tree) if isinstance(item, dict) else item for item in data]
                    if isinstance(data, list)
                    else _intersect(data, tree)
                )
        # a response's own Link header replaces the api.w.org one (PHP header() replace)
        if any(k == "Link" for k, _ in extra):
            headers = [h for h in headers if h[0] != "Link"]
        headers.extend(extra)
        if method == "HEAD":
            return Response(status, headers, b"")
        if body is None:
            body = _php_json(data)
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
                    raise _no_route()
                body = self._index_body(params)
                if params.get("_fields") is not None:
                    return 200, allow, json.loads(body), None
                return 200, allow, None, body
            if low == "/wp/v2":
                if not read:
                    raise _no_route()
                return 200, allow, self._namespace_index(), None
            parts = low.split("/")[3:] if low.startswith("/wp/v2/") else None
            if not parts:
                raise _no_route()
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
        raise _no_route()

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
            "array", default="publish", items={"enum": list(_ALL_STATUS_ENUM), "type": "string"}
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
        body = _php_json(data)
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
                "curies": _CURIES,
            },
        }

    def _types_route(self, read: bool, parts: list[str]) -> tuple:
        if not read or len(parts) > 2:
            raise _no_route()
        if len(parts) == 1:
            return (
                200,
                [("Allow", "GET")],
                {s: self._type_data(t) for s, t in self._types.items()},
                None,
            )
        pt = self._types.get(parts[1])
        if pt is None:
            raise _RestError("rest_type_invalid", "Invalid post type.", 404)
        return 200, [("Allow", "GET")], self._type_data(pt), None

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
                "curies": _CURIES,
            },
        }

    def _taxonomies_route(self, read: bool, parts: list[str]) -> tuple:
        if not read or len(parts) > 2:
            raise _no_route()
        if len(parts) == 1:
            return (
                200,
                [("Allow", "GET")],
                {s: self._tax_data(t) for s, t in self._taxonomies.items()},
                None,
            )
        tax = self._taxonomies.get(parts[1])
        if tax is None:
            raise _RestError("rest_taxonomy_invalid", "Invalid taxonomy.", 404)
        return 200, [("Allow", "GET")], self._tax_data(tax), None

    # posts -------------------------------------------------------------------

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
                    raise _RestError(
                        "rest_cannot_create",
                        "Sorry, you are not allowed to create posts as this user.",
                        401,
                    )
                raise _no_route()
            if pt.kind == "forbidden":
                raise _RestError(*pt.forbidden, 401)  # type: ignore[misc]
            if pt.kind == "empty":
                return self._empty_collection(pt, params)
            return self._collection(pt, params)
        if not parts[1].isdigit():
            raise _no_route()
        post_id = int(parts[1])
        if len(parts) == 2:
            if method == "DELETE":
                self._existing(pt, post_id)
                raise _RestError(
                    "rest_cannot_delete", "Sorry, you are not allowed to delete this post.", 401
                )
            if method in ("POST", "PUT", "PATCH"):
                self._existing(pt, post_id)
                raise _RestError(
                    "rest_cannot_edit", "Sorry, you are not allowed to edit this post.", 401
                )
            if not read:
                raise _no_route()
            return self._single(pt, post_id, params)
        if len(parts) in (3, 4) and parts[2] == "revisions" and pt.kind == "posts" and read:
            if len(parts) == 4 and not parts[3].isdigit():
                raise _no_route()
            post = self._posts.get(post_id)
            if post is None or post.type != pt.slug:
                raise _RestError("rest_post_invalid_parent", "Invalid post parent ID.", 404)
            raise _RestError(
                "rest_cannot_read",
                "Sorry, you are not allowed to view revisions of this post.",
                401,
            )
        raise _no_route()

    def _existing(self, pt: PostType, post_id: int) -> Post:
        post = self._posts.get(post_id)
        if post is None or post.type != pt.slug:
            raise _invalid_id()
        return post

    def _single(self, pt: PostType, post_id: int, params: dict[str, Any]) -> tuple:
        p = _Params(params)
        p.enum("context", ["view", "embed", "edit"], "view")
        p.string("password")
        p.check()
        if pt.kind == "forbidden":
            raise _invalid_id() if post_id not in self._posts else _RestError(*pt.forbidden, 401)
        post = self._existing(pt, post_id) if pt.kind == "posts" else None
        if post is None:
            raise _invalid_id()
        if p.get("context") == "edit":
            raise _RestError(
                "rest_forbidden_context", "Sorry, you are not allowed to edit this post.", 401
            )
        if post.status != "publish":
            raise _forbidden()
        data, body = self._rendered(post)
        if post.password and p.get("password") == post.password:
            data = json.loads(body)
            data["content"]["rendered"] = post.content
            data["excerpt"]["rendered"] = (
                post.excerpt if post.excerpt is not None else _auto_excerpt(post.content)
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

    def _validate_collection(self, pt: PostType, params: dict[str, Any]) -> _Params:
        p = _Params(params)
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
        p.enum_list("status", _ALL_STATUS_ENUM, ["publish"])
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
            raise _RestError(
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
            raise _RestError(
                "rest_forbidden_context",
                "Sorry, you are not allowed to edit posts in this post type.",
                401,
            )
        if p.get("orderby") == "relevance" and not p.get("search"):
            raise _RestError(
                "rest_no_search_term_defined",
                "You need to define a search term to order by relevance.",
                400,
            )
        if p.get("orderby") == "include" and not p.get("include"):
            raise _RestError(
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
            "title": lambda p: (_plain(p.title).casefold(), p.id),
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

    def _query(self, pt: PostType, p: _Params) -> list[Post]:
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
                if greater:
                    conds.append(lambda x, a=attr, b=bound: getattr(x, a) > b)
                else:
                    conds.append(lambda x, a=attr, b=bound: getattr(x, a) < b)
        if p.get("sticky") is not None:
            want = p.get("sticky")
            conds.append(lambda x: x.sticky == want)
        tax_conds = []
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is None or tax.forbidden is not None:
                continue
            wanted = p.get(tax.rest_base)
            if wanted:
                ws = set(wanted)
                tax_conds.append(
                    lambda x, t=tax_slug, w=ws: bool(w.intersection(x.terms.get(t, ())))
                )
            unwanted = p.get(tax.rest_base + "_exclude")
            if unwanted:
                us = set(unwanted)
                conds.append(lambda x, t=tax_slug, u=us: not u.intersection(x.terms.get(t, ())))
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
            raise _RestError(
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        offset = p.get("offset")
        start = offset if offset is not None else (page - 1) * per_page
        window = posts[max(start, 0) : max(start, 0) + per_page]
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        links = self._pagination_links(pt.rest_base, params, page, max_pages)
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
        p = _Params(params)
        p.enum("context", ["view", "embed", "edit"], "view")
        p.integer("page", 1, minimum=1)
        p.integer("per_page", 10, minimum=1, maximum=100)
        p.check()
        return 200, [("X-WP-Total", "0"), ("X-WP-TotalPages", "0"), ("Allow", "GET")], [], None

    def _pagination_links(
        self, rest_base: str, params: dict[str, Any], page: int, max_pages: int
    ) -> str:
        """Core's ``add_query_arg(urlencode_deep($request->get_query_params()), …)``."""
        if page <= 1 and max_pages <= page:
            return ""
        collection = self.rest_url(f"wp/v2/{rest_base}")
        url, _, query = collection.partition("?")
        ordered: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        for key, value in params.items():
            ordered[key] = value

        def build(target_page: int) -> str:
            items = dict(ordered)
            items["page"] = str(target_page)
            out = []
            for key, value in items.items():
                if isinstance(value, list):
                    out.extend(f"{key}%5B{i}%5D={_php_urlencode(v)}" for i, v in enumerate(value))
                else:
                    out.append(f"{key}={_php_urlencode(value)}")
            return url + "?" + "&".join(out)

        links = []
        if page > 1:
            links.append(f'<{build(min(page - 1, max_pages))}>; rel="prev"')
        if max_pages > page:
            links.append(f'<{build(page + 1)}>; rel="next"')
        return ", ".join(links)

    # terms ---------------------------------------------------------------

    def _term_count(self, term: Term) -> int:
        return sum(
            1
            for p in self._posts.values()
            if p.status == "publish" and term.id in p.terms.get(term.taxonomy, ())
        )

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
        links["curies"] = _CURIES
        d["_links"] = links
        return d

    def _terms_route(
        self, method: str, tax: Taxonomy, parts: list[str], params: dict[str, Any]
    ) -> tuple:
        if method not in ("GET", "HEAD"):
            if method == "POST" and len(parts) == 1:
                raise _RestError(
                    "rest_cannot_create",
                    "Sorry, you are not allowed to create terms in this taxonomy.",
                    401,
                )
            raise _no_route()
        if tax.forbidden is not None:
            raise _RestError(*tax.forbidden, 401)
        if len(parts) == 2 and parts[1].isdigit():
            term = self._terms[tax.slug].get(int(parts[1]))
            if term is None:
                raise _RestError("rest_term_invalid", "Term does not exist.", 404)
            return 200, [("Allow", "GET")], self._term_data(term, tax), None
        if len(parts) != 1:
            raise _no_route()
        p = _Params(params)
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
                raise _RestError("rest_post_invalid_id", "Invalid post ID.", 400)
            if post.status != "publish":
                raise _RestError(
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
            raise _RestError(
                "rest_term_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
                400,
            )
        window = terms[(page - 1) * per_page : page * per_page]
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        links = self._pagination_links(tax.rest_base, params, page, max_pages)
        if links:
            headers.append(("Link", links))
        headers.append(("Allow", "GET"))
        return 200, headers, [self._term_data(t, tax) for t in window], None

    # -- front end (HTML, feed, sitemaps) --------------------------------------

    def _front_headers(
        self, content_type: str = "text/html; charset=UTF-8"
    ) -> list[tuple[str, str]]:
        return [
            ("Content-Type", content_type),
            ("Link", f'<{self.api_root}>; rel="https://api.w.org/"'),
        ]

    def _serve_front(
        self, method: str, path: str, params: dict[str, Any], req_headers: Mapping[str, str]
    ) -> Response:
        with self._lock:
            resp = self._front(path, params, req_headers)
        if method == "HEAD":
            resp.body = b""
        return resp

    def _front(self, path: str, params: dict[str, Any], req_headers: Mapping[str, str]) -> Response:
        pretty = self.pretty_permalinks
        if path in ("/", "/index.php"):
            if params.get("feed"):
                return self._feed(req_headers)
            if params.get("sitemap"):
                return self._sitemap_query(params)
            for key in ("p", "page_id"):
                if key in params:
                    post = self._posts.get(_php_int(params[key]) or 0)
                    if post is None or post.status != "publish":
                        return self._not_found()
                    if pretty and post.slug:
                        return Response(
                            301, [("Location", self.permalink(post)), *self._front_headers()]
                        )
                    return self._post_page(post)
            return self._home_page()
        if path == "/robots.txt":
            return Response(
                200, [("Content-Type", "text/plain; charset=utf-8")], self.robots().encode()
            )
        if path in ("/wp-sitemap.xml",):
            return self._sitemap_index()
        if path == "/sitemap.xml":
            return Response(302, [("Location", self._home + "/wp-sitemap.xml")])
        m = re.fullmatch(r"/wp-sitemap-(posts|taxonomies)-([\w-]+?)-(\d+)\.xml", path)
        if m:
            return self._sitemap_page(m.group(1), m.group(2), int(m.group(3)))
        if not pretty:
            return self._not_found()
        if path in ("/feed/", "/feed"):
            return self._feed(req_headers)
        slug_path = path.strip("/")
        if slug_path:
            post = self._find_by_path(slug_path)
            if post is not None:
                return self._post_page(post)
        return self._not_found()

    def _find_by_path(self, slug_path: str) -> Post | None:
        parts = slug_path.split("/")
        if len(parts) == 2 and parts[0] in self._types and parts[0] not in ("post", "page"):
            ptype, slug = parts
            for post in self._posts.values():
                if post.type == ptype and post.slug == slug and post.status == "publish":
                    return post
            return None
        for post in self._posts.values():
            if (
                post.status == "publish"
                and post.type in ("post", "page")
                and self.permalink(post) == f"{self._home}/{slug_path}/"
            ):
                return post
        return None

    def _head(self, title: str, extra: str = "") -> str:
        return (
            f'<!DOCTYPE html>\n<html lang="{self.language}">\n<head>\n<meta charset="UTF-8" />\n'
            f"<title>{_xml(title)}</title>\n"
            f'<link rel="alternate" type="application/rss+xml" title="{_xml(self.name)} &raquo; '
            f'Feed" href="{_xml(self._feed_url())}" />\n'
            f'<link rel="https://api.w.org/" href="{_xml(self.api_root)}" />\n{extra}'
            f'<meta name="generator" content="WordPress {WP_VERSION}" />\n</head>\n'
        )

    def _home_page(self) -> Response:
        latest = sorted(
            (p for p in self._posts.values() if p.type == "post" and p.status == "publish"),
            key=lambda p: (p.date, p.id),
            reverse=True,
        )[:10]
        items = "\n".join(
            f'<article id="post-{p.id}"><h2><a href="{_xml(self.permalink(p))}">{p.title}</a></h2>'
            f'<time datetime="{_fmt(p.date_gmt)}+00:00">{_fmt(p.date)}</time></article>'
            for p in latest
        )
        page = (
            self._head(self.name) + f'<body class="home blog">\n<h1>{_xml(self.name)}</h1>\n'
            f"<p>{_xml(self.description)}</p>\n<main>\n{items}\n</main>\n</body>\n</html>\n"
        )
        return Response(200, self._front_headers(), page.encode())

    def _post_page(self, post: Post) -> Response:
        route = f"wp/v2/{self._types[post.type].rest_base}/{post.id}"
        rest = self.rest_url(route)
        extra = f'<link rel="alternate" type="application/json" href="{_xml(rest)}" />\n'
        content = "<p>This content is password protected.</p>" if post.password else post.content
        page = (
            self._head(f"{_plain(post.title)} – {self.name}", extra)
            + f'<body class="single postid-{post.id}">\n<article id="post-{post.id}">\n'
            f"<h1>{post.title}</h1>\n{content}\n</article>\n</body>\n</html>\n"
        )
        headers = self._front_headers()
        headers.append(("Link", f'<{rest}>; rel="alternate"; type="application/json"'))
        shortlink = (
            f"{self._home}/?page_id={post.id}"
            if post.type == "page"
            else f"{self._home}/?p={post.id}"
        )
        headers.append(("Link", f"<{shortlink}>; rel=shortlink"))
        return Response(200, headers, page.encode())

    def _not_found(self) -> Response:
        page = (
            self._head(f"Page not found – {self.name}")
            + '<body class="error404">\n<h1>Nothing here</h1>\n</body>\n</html>\n'
        )
        return Response(404, self._front_headers(), page.encode())

    def robots(self) -> str:
        """The ``robots.txt`` body (WordPress's default unless ``robots_txt`` was given)."""
        if self.robots_txt is not None:
            return self.robots_txt
        path = urlsplit(self._home).path
        return (
            f"User-agent: *\nDisallow: {path}/wp-admin/\n"
            f"Allow: {path}/wp-admin/admin-ajax.php\n\n"
            f"Sitemap: {self._home}/wp-sitemap.xml\n"
        )

    def _feed_url(self) -> str:
        return self._home + ("/feed/" if self.pretty_permalinks else "/?feed=rss2")

    def _feed(self, req_headers: Mapping[str, str]) -> Response:
        published = [p for p in self._posts.values() if p.status == "publish"]
        posts = sorted(
            (p for p in published if p.type == "post"), key=lambda p: (p.date, p.id), reverse=True
        )[:10]
        newest = max(
            (max(p.modified_gmt, p.date_gmt) for p in published), default=_utc_naive(self.clock())
        )
        last_modified = newest.strftime("%a, %d %b %Y %H:%M:%S") + " GMT"
        etag = '"' + hashlib.md5(last_modified.encode()).hexdigest() + '"'
        headers = [
            ("Content-Type", "application/rss+xml; charset=UTF-8"),
            ("Last-Modified", last_modified),
            ("ETag", etag),
            ("Link", f'<{self.api_root}>; rel="https://api.w.org/"'),
        ]
        client_etag = (req_headers.get("If-None-Match") or "").strip()
        client_since = req_headers.get("If-Modified-Since") or ""
        since_ok = False
        if client_since:
            try:
                since_ok = _utc_naive(parsedate_to_datetime(client_since)) >= newest
            except (TypeError, ValueError):
                since_ok = False
        etag_ok = client_etag == etag
        if (since_ok and etag_ok) if (client_since and client_etag) else (since_ok or etag_ok):
            return Response(304, headers)
        items = []
        for p in posts:
            cats = []
            for tax_slug in ("category", "post_tag"):
                for tid in p.terms.get(tax_slug, []):
                    term = self._terms[tax_slug].get(tid)
                    if term is not None:
                        cats.append(f"\t\t<category>{_cdata(term.name)}</category>\n")
            excerpt = p.excerpt if p.excerpt is not None else _auto_excerpt(p.content)
            content = "" if p.password else p.content
            items.append(
                "\t<item>\n"
                f"\t\t<title>{_xml(_plain(p.title))}</title>\n"
                f"\t\t<link>{_xml(self.permalink(p))}</link>\n"
                f"\t\t<dc:creator>{_cdata(self.authors.get(p.author, f'author-{p.author}'))}"
                "</dc:creator>\n"
                f"\t\t<pubDate>{_rfc822(p.date_gmt)}</pubDate>\n"
                + "".join(cats)
                + f'\t\t<guid isPermaLink="false">{_xml(p.guid or f"{self._home}/?p={p.id}")}'
                "</guid>\n"
                f"\t\t<description>{_cdata(_plain(excerpt))}</description>\n"
                f"\t\t<content:encoded>{_cdata(content)}</content:encoded>\n"
                "\t</item>\n"
            )
        feed = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"\n'
            '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
            '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
            '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
            '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
            '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
            '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n\t>\n\n<channel>\n'
            f"\t<title>{_xml(self.name)}</title>\n"
            f'\t<atom:link href="{_xml(self._feed_url())}" rel="self" '
            'type="application/rss+xml" />\n'
            f"\t<link>{_xml(self._home)}</link>\n"
            f"\t<description>{_xml(self.description)}</description>\n"
            f"\t<lastBuildDate>{_rfc822(newest)}</lastBuildDate>\n"
            f"\t<language>{self.language}</language>\n"
            "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n"
            "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n"
            f"\t<generator>https://wordpress.org/?v={WP_VERSION}</generator>\n"
            + "".join(items)
            + "</channel>\n</rss>\n"
        )
        return Response(200, headers, feed.encode())

    _SITEMAP_MAX = 2000

    def _sitemap_url(self, kind: str, sub: str, page: int) -> str:
        if self.pretty_permalinks:
            return f"{self._home}/wp-sitemap-{kind}-{sub}-{page}.xml"
        return f"{self._home}/?sitemap={kind}&sitemap-subtype={sub}&paged={page}"

    def _sitemap_entries(self, kind: str, sub: str) -> list[str] | None:
        if kind == "posts":
            pt = self._types.get(sub)
            if pt is None or pt.kind != "posts":
                return None
            posts = sorted(
                (p for p in self._posts.values() if p.type == sub and p.status == "publish"),
                key=lambda p: p.id,
            )
            urls = [self.permalink(p) for p in posts]
            if sub == "page":
                urls.insert(0, self._home + "/")
            return urls
        tax = self._taxonomies.get(sub)
        if tax is None or tax.forbidden is not None:
            return None
        terms = sorted(
            (t for t in self._terms[sub].values() if self._term_count(t) > 0), key=lambda t: t.id
        )
        return [self._term_link(t) for t in terms]

    def _sitemap_index(self) -> Response:
        locs = []
        for kind, names in (
            ("posts", [t.slug for t in self._types.values() if t.kind == "posts"]),
            ("taxonomies", [t.slug for t in self._taxonomies.values()]),
        ):
            for sub in names:
                entries = self._sitemap_entries(kind, sub) or []
                if kind == "posts" and sub == "page" and len(entries) == 1:
                    entries = (
                        entries
                        if any(
                            p.type == "page" and p.status == "publish" for p in self._posts.values()
                        )
                        else []
                    )
                pages = math.ceil(len(entries) / self._SITEMAP_MAX)
                locs.extend(self._sitemap_url(kind, sub, n) for n in range(1, pages + 1))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{_xml(u)}</loc></sitemap>" for u in locs)
            + "</sitemapindex>\n"
        )
        return Response(200, [("Content-Type", "application/xml; charset=UTF-8")], body.encode())

    def _sitemap_page(self, kind: str, sub: str, page: int) -> Response:
        entries = self._sitemap_entries(kind, sub)
        chunk = (entries or [])[(page - 1) * self._SITEMAP_MAX : page * self._SITEMAP_MAX]
        if not chunk or page < 1:
            return self._not_found()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{_xml(u)}</loc></url>" for u in chunk)
            + "</urlset>\n"
        )
        return Response(200, [("Content-Type", "application/xml; charset=UTF-8")], body.encode())

    def _sitemap_query(self, params: Mapping[str, Any]) -> Response:
        kind = params.get("sitemap")
        if kind == "index":
            return self._sitemap_index()
        sub = params.get("sitemap-subtype", "")
        page = _php_int(params.get("paged", "1")) or 1
        if kind in ("posts", "taxonomies") and isinstance(sub, str):
            return self._sitemap_page(kind, sub, page)
        return self._not_found()


def _php_get(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``$_GET`` from query pairs: the last value wins, ``key[]`` collects a list."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            base = key[:-2]
            current = out.get(base)
            if not isinstance(current, list):
                current = []
            current.append(value)
            out[base] = current
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------
# HTTP transport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wpwatch-demo"
    sys_version = ""
    timeout = 60
    server: _Listener

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)

    def _handle(self) -> None:
        length = self.headers.get("Content-Length")
        if length:
            try:
                self.rfile.read(int(length))
            except ValueError:
                pass
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        site, rel = self.server.route(target)
        try:
            if site is None:
                resp = self.server.root_response(self.command, rel)
            else:
                resp = site.handle(self.command, rel, self.headers)
        except Exception:  # one bad request must not kill the server
            logger.exception("demo server failed on %s %s", self.command, target)
            resp = Response(
                500,
                [("Content-Type", "application/json; charset=UTF-8")],
                _php_json(
                    {
                        "code": "internal_server_error",
                        "message": "There has been a critical error on this website.",
                        "data": {"status": 500},
                    }
                ),
            )
        data = self._encode(resp)
        # Counted before sending: a client that reads the counters right after its
        # response arrives must see that response counted.
        if site is not None:
            site._count(self.command, target, resp.status, len(data), len(resp.body))
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _encode(self, resp: Response) -> bytes:
        reason = self.responses.get(resp.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {resp.status} {reason}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
        ]
        lines.extend(f"{k}: {v}" for k, v in resp.headers)
        if self.command != "HEAD" or resp.body:
            lines.append(f"Content-Length: {len(resp.body)}")
        client_close = (
            self.headers.get("Connection", "").lower() == "close"
            or self.request_version == "HTTP/1.0"
        )
        if not self.server.keep_alive or client_close:
            lines.append("Connection: close")
            self.close_connection = True
        else:
            self.close_connection = False
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + (resp.body if self.command != "HEAD" else b"")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Listener(ThreadingHTTPServer):
    """One listening socket with the sites mounted on it (longest prefix wins)."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], keep_alive: bool):
        super().__init__(address, _Handler)
        self.keep_alive = keep_alive
        self.mounts: list[tuple[str, DemoSite]] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()

    def serve(self) -> None:
        """Like ``serve_forever`` but woken by :meth:`stop` instead of polling."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stopping:
                        self._handle_request_noblock()

    def stop(self) -> None:
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.server_close()
        self._wake_r.close()
        self._wake_w.close()
        self.drop_connections()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def drop_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def mount(self, prefix: str, site: DemoSite) -> None:
        if any(p == prefix for p, _ in self.mounts):
            raise ValueError(f"a site is already mounted at {prefix or '/'!r} on {self.base}")
        self.mounts.append((prefix, site))
        self.mounts.sort(key=lambda m: len(m[0]), reverse=True)

    def route(self, target: str) -> tuple[DemoSite | None, str]:
        path = target.split("?", 1)[0]
        decoded = unquote(path)
        for prefix, site in self.mounts:
            if not prefix:
                if path == "/robots.txt" and len(self.mounts) > 1:
                    break
                return site, target
            if decoded == prefix or decoded.startswith(prefix + "/"):
                rest = target[len(prefix) :] if path.startswith(prefix) else target
                return site, rest if rest.startswith("/") else "/" + rest
        return None, target

    def root_response(self, method: str, target: str) -> Response:
        path = target.split("?", 1)[0]
        if path == "/robots.txt":
            sites = [s for _, s in self.mounts]
            if len(sites) == 1:
                body = sites[0].robots()
            else:
                lines = ["User-agent: *"]
                for prefix, site in sorted(self.mounts):
                    lines.append(f"Disallow: {prefix}/wp-admin/")
                    lines.append(f"Allow: {prefix}/wp-admin/admin-ajax.php")
                lines.append("")
                lines.extend(
                    f"Sitemap: {s.home}/wp-sitemap.xml"
                    for _, s in sorted(self.mounts, key=lambda m: m[0])
                )
                body = "\n".join(lines) + "\n"
            return Response(
                200,
                [("Content-Type", "text/plain; charset=utf-8")],
                b"" if method == "HEAD" else body.encode(),
            )
        return Response(
            404,
            [("Content-Type", "text/html; charset=UTF-8")],
            b""
            if method == "HEAD"
            else b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>\n",
        )


class DemoServer:
    """Serve :class:`DemoSite` objects over HTTP from background threads.

    ``DemoServer(site)`` binds ``127.0.0.1`` on a free port; more sites go on the
    same listener under a path prefix (``add_site(en, prefix="/en")``, a
    subdirectory install) or on their own address (``add_site(b, host="127.0.0.2")``).
    Sockets are bound when a site is added, so ``url`` is known before
    :meth:`start`.  Use as a context manager or call :meth:`close`.

    ``keep_alive=False`` answers ``Connection: close`` like ``php -S``.
    """

    def __init__(
        self,
        site: DemoSite | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        keep_alive: bool = True,
    ):
        self.host = host
        self.keep_alive = keep_alive
        self._listeners: list[_Listener] = []
        self._default: _Listener | None = None
        self._default_addr = (host, port)
        self._sites: list[tuple[DemoSite, _Listener]] = []
        self._started = False
        self._lock = threading.Lock()
        if site is not None:
            self.add_site(site, prefix=prefix)

    def _listen(self, host: str, port: int) -> _Listener:
        listener = _Listener((host, port), self.keep_alive)
        self._listeners.append(listener)
        if self._started:
            self._run(listener)
        return listener

    def add_site(
        self, site: DemoSite, *, prefix: str = "", host: str | None = None, port: int | None = None
    ) -> str:
        """Mount ``site`` and return its URL (with trailing slash).

        Without ``host``/``port`` it goes on the default listener under ``prefix``;
        with them it gets its own listener (or joins one already bound there).
        """
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"prefix must look like '/en', not {prefix!r}")
        with self._lock:
            if site._mounted:
                raise ValueError("this site is already served (a site has one home URL)")
            if host is None and port is None:
                if self._default is None:
                    self._default = self._listen(*self._default_addr)
                listener = self._default
            else:
                want = (host or self.host, port or 0)
                listener = next(
                    (lst for lst in self._listeners if want[1] and lst.server_address[:2] == want),
                    None,
                )
                if listener is None:
                    listener = self._listen(*want)
            listener.mount(prefix, site)
            site.home = listener.base + prefix
            site._mounted = True
            self._sites.append((site, listener))
            return site.url

    def _run(self, listener: _Listener) -> None:
        thread = threading.Thread(
            target=listener.serve, name=f"demo-server {listener.base}", daemon=True
        )
        listener.thread = thread
        thread.start()

    def start(self) -> DemoServer:
        with self._lock:
            if not self._started:
                self._started = True
                for listener in self._listeners:
                    self._run(listener)
        return self

    @property
    def url(self) -> str:
        """URL of the first site added."""
        if not self._sites:
            raise RuntimeError("no site added")
        return self._sites[0][0].url

    def url_for(self, site: DemoSite) -> str:
        for s, _ in self._sites:
            if s is site:
                return s.url
        raise KeyError("site not served here")

    @property
    def sites(self) -> list[DemoSite]:
        return [s for s, _ in self._sites]

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{site url: site.stats()}``."""
        return {s.url: s.stats() for s, _ in self._sites}

    def close(self) -> None:
        with self._lock:
            for listener in self._listeners:
                listener.stop()
            for site, _ in self._sites:
                site._mounted = False
            self._listeners.clear()
            self._default = None
            self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------
# the bundled demo data


def _data_text(name: str) -> str:
    return resources.files("wpwatch.demo").joinpath("data", name).read_text(encoding="utf-8")


def load_demo_site(*, clock: Callable[[], datetime] | None = None, **site_kwargs: Any) -> DemoSite:
    """The bundled advocacy demo site: the iuhrdf fixture, nine more posts and two pages.

    Settings, authors and terms come from ``data/site.json``; posts from
    ``data/posts.json`` (WordPress REST records).  Keyword arguments go to
    :class:`DemoSite`.
    """
    settings = json.loads(_data_text("site.json"))
    kwargs: dict[str, Any] = {
        "description": settings.get("description", ""),
        "gmt_offset": settings.get("gmt_offset", 0),
        "authors": {int(k): v for k, v in settings.get("authors", {}).items()},
    }
    kwargs.update(site_kwargs)
    site = DemoSite(settings.get("name", "Demo Site"), clock=clock, **kwargs)
    for tax in settings.get("taxonomies", []):
        site.register_taxonomy(
            tax["slug"],
            rest_base=tax.get("rest_base"),
            name=tax.get("name"),
            types=tax.get("types", ["post"]),
            hierarchical=tax.get("hierarchical", False),
        )
    for taxonomy, terms in settings.get("terms", {}).items():
        for term in terms:
            if any(term["id"] in t for t in site._terms.values()):
                continue
            site.add_term(
                taxonomy,
                term["name"],
                slug=term.get("slug"),
                id=term["id"],
                parent=term.get("parent", 0),
                description=term.get("description", ""),
            )
    site.load_fixture(json.loads(_data_text("posts.json")))
    return site


_DEMO_ROLES = {"edit": 4561, "unpublish": 4575, "retitle": 4583, "terms": 4590, "delete": 4598}


def apply_demo_changes(site: DemoSite) -> list[dict[str, Any]]:
    """Make the changes a watcher should find on the demo site, one of each kind.

    Run it on a site from :func:`load_demo_site` after a first (baseline) crawl.
    Returns one description per change: ``{"kind", "id", "what"}``, where
    ``kind`` is what wpwatch should report.
    """
    r = _DEMO_ROLES
    with site._lock:
        statement = site.post(r["edit"])
        site.edit(
            r["edit"],
            content=statement.content.replace(
                "The Foundation calls on the members", "The Foundation invites the members", 1
            ).replace("to act on the findings immediately", "to consider the findings", 1),
        )
        site.unpublish(r["unpublish"])
        site.delete(r["delete"])
        site.edit(r["retitle"], title="Report: Families Separated &#8211; Testimonies from Abroad")
        site.set_terms(r["terms"], tags=[12, 14, 11])
        backdated = site.add(
            "Statement on the Closure of Community Language Schools",
            "<p>The Foundation condemns the closure of community language schools and calls "
            "for them to reopen.</p>\n",
            date=site.now() - timedelta(days=30),
            author=2,
            categories=[3],
            tags=[11],
        )
    return [
        {
            "kind": "edited",
            "id": r["edit"],
            "what": "a statement's demands quietly softened (content edit, modified moves)",
        },
        {
            "kind": "unpublished",
            "id": r["unpublish"],
            "what": "a press release taken down (now a draft: GET by id answers 401)",
        },
        {
            "kind": "deleted",
            "id": r["delete"],
            "what": "a news post deleted for good (GET by id answers 404)",
        },
        {"kind": "edited", "id": r["retitle"], "what": "a report retitled"},
        {
            "kind": "edited",
            "id": r["terms"],
            "what": "a tag added directly (wp_set_object_terms: modified does not move)",
        },
        {
            "kind": "new",
            "id": backdated,
            "what": "a post back-dated by 30 days (modified = date: missed by modified_after)",
        },
    ]


# ---------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wpwatch.demo.server --port 8765``: serve the demo site until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m wpwatch.demo.server",
        description="Serve the bundled WordPress demo site (REST API, feed, sitemaps).",
        epilog="example: python -m wpwatch.demo.server --port 8765 --prefix /en",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    parser.add_argument("--prefix", default="", help="serve under a path, e.g. /en")
    parser.add_argument(
        "--gmt-offset", type=float, default=None, help="site timezone in hours east of UTC"
    )
    parser.add_argument(
        "--extra-posts",
        type=int,
        default=0,
        help="add this many generated back-dated posts (for load tests)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    extra = {} if args.gmt_offset is None else {"gmt_offset": args.gmt_offset}
    site = load_demo_site(**extra)
    if args.extra_posts:
        site.add_many(args.extra_posts)
    server = DemoServer(site, host=args.host, port=args.port, prefix=args.prefix)
    server.start()
    logger.info(
        "demo WordPress site on %s (REST API at %s); Ctrl-C stops it", site.url, site.api_root
    )
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        logger.info("served %s", site.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
