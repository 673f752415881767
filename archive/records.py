"""What goes into the archive and what comes back: plain dataclasses, no database."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class RawResponse:
    """An HTTP response as received: the evidence behind versions."""

    url: str
    status: int
    headers: Sequence[tuple[str, str]] = field(repr=False)
    body: bytes = field(repr=False)
    fetched_at: str = ""
    method: str = "GET"
    authenticated: bool = False  # the request carried an own site's login (never stored)


@dataclass(frozen=True)
class PostRecord:
    """One post as fetched, already normalized by diffs.normalize."""

    wp_id: int
    item_index: int | None
    normalized: dict[str, Any]
    content_hash: str
    modified_gmt: str | None
    date_gmt: str | None
    link: str | None
    title: str | None
    revision_count: int | None = None
    #: The REST record as received, for scoring under ignore rules (not stored: the
    #: response's bytes are).
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class RevisionRecord:
    """One revision (or autosave) WordPress saved of a post, fetched on its own URL.

    ``record`` is the revision normalized as a post; ``saved_gmt`` its ``modified_gmt``;
    ``author_login`` the login of ``author_id`` when the site told it.
    """

    wp_revision_id: int
    record: PostRecord
    response: RawResponse
    saved_gmt: str
    author_id: int | None
    author_login: str | None
    autosave: bool = False

    def as_chain(self) -> dict[str, Any]:
        """What a version's chain record says of the revision it is."""
        return {"id": self.wp_revision_id, "autosave": self.autosave, "author": self.author_id,
                "author_login": self.author_login, "saved_gmt": self.saved_gmt}


@dataclass(frozen=True)
class ChangeEvent:
    """What a change listener (the alert outbox) hears, inside the change's transaction."""

    change_id: int
    site_id: int
    site_url: str
    round_id: int | None
    type: str
    wp_id: int
    kind: str
    old: dict[str, Any] | None  # normalized form before, if any
    new: dict[str, Any] | None  # normalized form after, if any
    noise: bool = False  # every changed field is set aside by the site's ignore rules


#: Called as listener(conn, event) inside the transaction that stores each change,
#: so what it writes (the alert outbox) commits with the change.
ChangeListener = Callable[[Connection, ChangeEvent], None]

#: (old normalized, new normalized) → the names of what changed (diffs.compare).
Compare = Callable[[dict[str, Any], dict[str, Any]], list[str]]


class Verdict(Protocol):
    """How a change scores under ignore rules (``diffs.ignore.Score`` has it)."""

    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def noise_rules(self) -> tuple[str, ...]: ...


class Scorer(Protocol):
    """A site's ignore rules as the archive uses them (``diffs.ignore.IgnoreRules`` is one)."""

    @property
    def hash(self) -> str: ...
    def __bool__(self) -> bool: ...
    def as_dict(self) -> dict[str, list[str]]: ...
    def score(
        self,
        kind: str,
        fields: Sequence[str],
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
    ) -> Verdict: ...


@dataclass
class KnownPost:
    """What a round needs to know of a post the archive already has."""

    state: str
    modified_gmt: str | None
    date_gmt: str | None


@dataclass
class TypeState:
    """One watched content type of a site: the incremental round's memory."""

    type: str
    slug: str | None = None
    baselined: bool = False
    modified_watermark: str | None = None
    date_watermark: str | None = None
    max_id: int | None = None
    last_total: int | None = None


@dataclass
class Outcome:
    """What one write did, for the round's counters."""

    changes: list[tuple[int, str]] = field(default_factory=list)  # (change id, kind)
    versions: int = 0
