"""What a comparison of two versions of a post is made of: plain, frozen data.

:class:`Version` is what goes in (a normalized post and, when the archive has it, the raw REST
record it came from); :class:`Comparison` is what comes out, and :class:`Report` is what the
renderers take (a comparison and where it comes from). Nothing here computes a diff: see
``diffs.report`` (the comparison), ``diffs.fields`` (field changes) and ``diffs.summary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from diffs.normalize import content_hash, normalize
from diffs.text import BlockDiff, Segment, Tally, tally

GONE = ("unpublished", "deleted")
MEDIA_NOUNS = {"img": "image", "iframe": "embed", "embed": "embed", "source": "media source"}


class VersionLike(Protocol):
    """What a comparison needs of a stored version (``archive.queries.StoredVersion`` has it)."""

    @property
    def normalized(self) -> Mapping[str, Any]: ...
    @property
    def raw(self) -> Mapping[str, Any] | None: ...
    @property
    def id(self) -> int | None: ...
    @property
    def fetched_at(self) -> str | None: ...
    @property
    def content_hash(self) -> str | None: ...


@dataclass(frozen=True)
class Version:
    """A version as plain data: the normalized form, optionally the raw REST record.

    ``id`` is the archive-wide version id, ``number`` its place among its post's versions
    (1 for the first version archived of that post), as users count them.
    """

    normalized: Mapping[str, Any]
    raw: Mapping[str, Any] | None = None
    id: int | None = None
    fetched_at: str | None = None
    content_hash: str | None = None
    number: int | None = None

    @classmethod
    def from_post(
        cls,
        post: Mapping[str, Any],
        *,
        id: int | None = None,
        fetched_at: str | None = None,
        number: int | None = None,
    ) -> Version:
        norm = normalize(post)
        return cls(norm, post, id, fetched_at, content_hash(norm), number)


@dataclass(frozen=True)
class VersionInfo:
    id: int | None
    fetched_at: str | None
    content_hash: str | None
    number: int | None = None  # per post: v1, v2, …

    @property
    def label(self) -> str:
        """``v2 (#57)``: the post's own count, with the archive-wide id beside it."""
        if self.number is not None and self.id is not None:
            return f"v{self.number} (#{self.id})"
        if self.number is not None:
            return f"v{self.number}"
        return f"#{self.id}" if self.id is not None else "?"


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class Retarget:
    text: str
    old_href: str
    new_href: str


@dataclass(frozen=True)
class LinkChanges:
    removed: tuple[Link, ...] = ()
    added: tuple[Link, ...] = ()
    retargeted: tuple[Retarget, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.removed or self.added or self.retargeted)


@dataclass(frozen=True)
class Media:
    tag: str
    src: str

    @property
    def noun(self) -> str:
        return MEDIA_NOUNS.get(self.tag, self.tag)


@dataclass(frozen=True)
class MediaChanges:
    removed: tuple[Media, ...] = ()
    added: tuple[Media, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)


@dataclass(frozen=True)
class Term:
    id: int
    name: str | None = None  # a name or slug, when the record tells; the id otherwise

    @property
    def label(self) -> str:
        return self.name if self.name else f"#{self.id}"

    @property
    def display(self) -> str:
        return f"{self.name} (#{self.id})" if self.name else f"#{self.id}"


@dataclass(frozen=True)
class FieldChange:
    """One changed field. Values are plain, unescaped display text."""

    name: str  # the change name: "title", "date", "terms:categories"…
    label: str  # "Title", "Publication date", "Categories"…
    old: str | None = None
    new: str | None = None
    removed: tuple[Term, ...] = ()  # taxonomy fields
    added: tuple[Term, ...] = ()
    words: tuple[Segment, ...] = ()  # a word diff, for title and excerpt
    note: str = ""  # "back-dated by 50 days"


@dataclass(frozen=True)
class Publication:
    """What a new post says of itself: when it is dated, who wrote it, and whether its date
    lies well before wpwatch first saw it (``diffs.fields.BACKDATED_AFTER``).
    Values are plain, unescaped display text."""

    date: str | None  # "2024-02-13 09:00 UTC" (the post's date_gmt)
    author: str | None  # "Jane Doe (user 3)", or "user 3" when the record names no one
    first_seen: str | None  # ISO UTC: when wpwatch first saw the post
    backdated_by: str = ""  # "30 days" when back-dated, else ""

    @property
    def backdated(self) -> str:
        """``dated 30 days before it was first seen``, or "" when it was not back-dated."""
        return f"dated {self.backdated_by} before it was first seen" if self.backdated_by else ""

    @property
    def line(self) -> str:
        """``dated 2024-02-13 09:00 UTC by Jane Doe (user 3)``."""
        parts = [f"dated {self.date}" if self.date else "undated"]
        if self.author:
            parts.append(f"by {self.author}")
        return " ".join(parts)


@dataclass(frozen=True)
class Evidence:
    """The response that proved a post gone (or any response worth showing)."""

    status: int
    url: str
    fetched_at: str | None = None
    sha256: str | None = None
    code: str | None = None  # the REST error code: rest_post_invalid_id, rest_forbidden…


@dataclass(frozen=True)
class Comparison:
    kind: str  # new | edited | unpublished | deleted | restored
    title: str
    url: str | None
    old: VersionInfo | None
    new: VersionInfo | None
    changed: tuple[str, ...]  # diffs.compare names, in report order
    text_mode: str  # "diff": blocks are a diff; "full": the text of the one version shown
    blocks: tuple[BlockDiff, ...]
    links: LinkChanges
    media: MediaChanges
    fields: tuple[FieldChange, ...]
    markup_only: bool
    evidence: Evidence | None
    content_html: str | None  # raw, UNTRUSTED HTML of the version shown: sanitize to display
    summary: str = ""
    published: Publication | None = None  # for a new post

    @property
    def changed_blocks(self) -> tuple[BlockDiff, ...]:
        return tuple(b for b in self.blocks if b.op != "equal")

    @property
    def size(self) -> Tally:
        """Words and characters in the version shown (the new one, or the last one for a
        gone post); text in scripts written without spaces counts in characters."""
        side = "-" if self.new is None else "+"
        return sum(
            (tally(s.text) for b in self.blocks for s in b.segments if s.op in ("=", side)),
            Tally(),
        )

    @property
    def words(self) -> int:
        return self.size.words


@dataclass(frozen=True)
class Presence:
    """When a gone post was last seen present (or a new post last seen absent): the change's
    round and the last complete round of its site before it (archive/coverage.py)."""

    kind: str  # the change's kind: deleted | unpublished | new
    before_at: str | None  # the last complete round before: present (gone post) or absent
    before_round: int | None
    at: str  # first seen gone, or first seen
    round: int

    @property
    def line(self) -> str:
        """``last seen present at T1 (round R1), first seen gone at T2 (round R2)``."""
        before = (f"{_stamp(self.before_at)} (round {self.before_round})" if self.before_at
                  else "no complete round before")
        now = f"{_stamp(self.at)} (round {self.round})"
        if self.kind == "new":
            return f"first seen at {now}, absent at {before}"
        return f"last seen present at {before}, first seen gone at {now}"


def _stamp(iso: str) -> str:
    return iso[:19].replace("T", " ") + "Z"


@dataclass(frozen=True)
class Context:
    """Where a comparison comes from: the change row and its post (all optional)."""

    change_id: int | None = None
    site: str | None = None
    site_name: str | None = None
    type: str | None = None
    wp_id: int | None = None
    detected_at: str | None = None
    #: revisions WordPress saved up to the new version (own sites): each with id, autosave,
    #: author, author_login, saved_gmt
    revisions: tuple[Mapping[str, Any], ...] = ()

    @property
    def revisions_note(self) -> str | None:
        """"3 revisions saved between 10:00 and 10:15 by 2 users (alice, bob), …"."""
        from diffs.revisions import saved_between

        return saved_between(self.revisions)
    presence: Presence | None = None


@dataclass(frozen=True)
class Report:
    """What renderers take: a comparison and where it comes from."""

    context: Context
    comparison: Comparison
