"""What a round knows before it starts: a read-only snapshot of the site's archive.

The runner reads it from the archive before the crawl (`crawler.runner.
load_round_state`); the spider only reads it. Everything the round learns
goes back as items to the pipeline, never into this object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from archive import KnownPost, TypeState
from core.config import Credentials


def _frozen(mapping: Mapping | None = None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class RoundState:
    """One site's memory at the start of a round.

    ``api_root``: the REST root found by an earlier round (None before the
    first); ``type_states``: REST base → watermarks; ``known``: REST base →
    wp_id → state and stamps of every post the archive holds; ``links``:
    (REST base, wp_id) → public link; ``fallback_seen``: URLs degraded mode
    already looked at; ``credentials`` and ``revisions``: an own site's login and
    the revisions already stored of its posts.
    """

    site_url: str
    site_name: str | None = None
    full: bool = False
    types: tuple[str, ...] = ()  # the configured filter (REST bases or slugs); () = all
    api_root: str | None = None
    type_states: Mapping[str, TypeState] = field(default_factory=_frozen)
    known: Mapping[str, Mapping[int, KnownPost]] = field(default_factory=_frozen)
    links: Mapping[tuple[str, int], str | None] = field(default_factory=_frozen)
    fallback_seen: frozenset[str] = frozenset()
    #: an own site's login (None: anonymous, what the public sees)
    credentials: Credentials | None = field(default=None, repr=False)
    #: (REST base, wp_id) → (revision id, save time) of the revisions stored (own sites)
    revisions: Mapping[tuple[str, int], frozenset[tuple[int, str]]] = field(
        default_factory=_frozen)

    def __post_init__(self) -> None:
        for name in ("type_states", "known", "links", "revisions"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def type_state(self, rest_base: str) -> TypeState:
        """A fresh copy of a type's watermarks (the spider moves its own copy)."""
        st = self.type_states.get(rest_base)
        return dataclasses.replace(st) if st is not None else TypeState(type=rest_base)

    @property
    def reads_everything(self) -> bool:
        """Whether this round reads every post: --full, or a site or type never baselined."""
        return self.full or not self.type_states or not all(
            st.baselined for st in self.type_states.values()
        )

    def known_posts(self, rest_base: str) -> Mapping[int, KnownPost]:
        return self.known.get(rest_base) or _frozen()

    @property
    def first_round(self) -> bool:
        """No REST type of this site was ever baselined."""
        return not any(st.baselined for st in self.type_states.values())

    def wants(self, rest_base: str, slug: str) -> bool:
        """Whether the configured types cover this one (all when none are configured)."""
        return not self.types or rest_base in self.types or slug in self.types
