"""The state of one demo site: settings, clock, types, taxonomies, terms, authors, posts.

:class:`SiteModel` holds everything a request can read and answers the
Python-side questions (``ids``, ``post``, ``len``); changing posts is
:mod:`~wpwatch.demo.editing`, answering requests the modules built on it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from wpwatch.demo.clock import system_clock
from wpwatch.demo.model import (
    REST_MODES,
    Post,
    PostType,
    Taxonomy,
    Term,
    default_taxonomies,
    default_types,
)
from wpwatch.demo.php import (
    parse_rest_date,
    slugify,
    utc_naive,
)


class SiteModel:
    """One site's data and settings; the base every other part of :class:`DemoSite` builds on.

    It also holds the request counters and the queued failures, so that every
    part sees one lock and one state.
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
        if rest_mode not in REST_MODES:
            raise ValueError(f"rest_mode must be one of {', '.join(REST_MODES)}, not {rest_mode!r}")
        self._lock = threading.RLock()
        self.name = name
        self.description = description
        self._gmt_offset = float(gmt_offset)
        self._timezone_string = timezone_string
        self.clock: Callable[[], datetime] = clock or system_clock
        self.pretty_permalinks = pretty_permalinks
        self.rest_mode = rest_mode
        self.supports_modified_after = supports_modified_after
        self.authors: dict[int, str] = dict(authors or {1: "admin"})
        self.robots_txt = robots_txt
        self.language = language
        self._home = home.rstrip("/")
        self._mounted = False
        self._types = default_types()
        self._taxonomies = default_taxonomies()
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
        #: Seconds every answer waits before it is made: a slow host (several nodes' tests
        #: need rounds that are still running when a node is killed).
        self.latency = 0.0
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
        return utc_naive(self.clock()).replace(tzinfo=UTC)

    def _now_cols(self) -> tuple[datetime, datetime]:
        gmt = utc_naive(self.clock())
        return gmt + self._offset(), gmt

    def _offset(self) -> timedelta:
        return timedelta(hours=self._gmt_offset)

    def _coerce_date(self, value: datetime | str) -> tuple[datetime, datetime]:
        """(local, gmt) for a Python-side date: aware → converted, naive/no offset → site-local."""
        if isinstance(value, str):
            parsed = parse_rest_date(value)
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
        gmt = utc_naive(value)
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

    def unregister_type(self, slug: str) -> None:
        """Remove a post type (a plugin deactivated): gone from ``/wp/v2/types``, and its
        route answers 404 ``rest_no_route``; its posts stay in the database."""
        with self._lock:
            pt = self._types.pop(slug)
            for tax in pt.taxonomies:
                if tax in self._taxonomies and slug in self._taxonomies[tax].types:
                    self._taxonomies[tax].types.remove(slug)
            self._render_gen += 1
            self._gen += 1

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
                term_id, taxonomy, name, slug or slugify(name), parent, description
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

    def _term_count(self, term: Term) -> int:
        return sum(
            1
            for p in self._posts.values()
            if p.status == "publish" and term.id in p.terms.get(term.taxonomy, ())
        )
