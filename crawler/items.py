"""What the spider hands to the pipeline: everything a round learns, in order.

The spider never writes; each fact it learns travels as one of these items
to `crawler.pipelines.ArchivePipeline`, the round's only writer, which
handles them one at a time in the order they were yielded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive import PostRecord, RawResponse, TypeState
from archive.records import RevisionRecord


@dataclass(frozen=True)
class PostsFetched:
    """Full records of some posts of one type, and the response they came in.

    ``total`` is the type's ``X-WP-Total`` when the posts come from a walk of
    the whole listing (a baseline or a --full round), for progress. A
    ``type_state`` rides on the last item of a type's round: the type's new
    watermarks, stored in the same transaction as these posts.
    """

    type: str
    response: RawResponse
    posts: list[tuple[int | None, dict[str, Any]]] = field(repr=False)  # (index, record)
    baseline: bool = False
    total: int | None = None
    type_state: TypeState | None = None


@dataclass(frozen=True)
class PostGone:
    """A published post that a direct GET proved deleted (404) or unpublished (401/403)."""

    type: str
    wp_id: int
    kind: str
    response: RawResponse
    type_state: TypeState | None = None


@dataclass(frozen=True)
class RevisionsFetched:
    """Revisions WordPress saved of one post (own sites), each fetched on its own URL.

    Yielded after the `PostsFetched` that carried the post, so the post is stored first.
    """

    type: str
    wp_id: int
    revisions: list[RevisionRecord] = field(repr=False)


@dataclass(frozen=True)
class FallbackFetched:
    """Posts degraded mode found (REST closed): from the RSS feed or a post's page.

    Only posts the archive does not know are stored (``source`` in their
    normalized form says where they came from); a baseline raises no change.
    """

    type: str
    response: RawResponse
    records: list[PostRecord] = field(repr=False)
    baseline: bool = False


@dataclass(frozen=True)
class TypeDone:
    """A type's round ended with nothing left to store: its new watermarks alone."""

    state: TypeState


@dataclass(frozen=True)
class ApiRootFound:
    """Discovery found the site's REST API root (kept for the next rounds)."""

    api_root: str


@dataclass(frozen=True)
class FallbackSeen:
    """URLs degraded mode has looked at (feed and sitemaps), so later rounds skip them."""

    urls: tuple[str, ...]


@dataclass(frozen=True)
class RoundEnd:
    """The round's verdict, the spider's last item.

    ``fatal``: why the round could not go on (failed); ``interrupted``: why it
    stopped early (its time budget), making no verdicts from a partial
    listing; ``degraded``: the REST API is closed and the feed and sitemaps
    were read instead; ``errors``: problems that did not stop the round.
    """

    errors: tuple[str, ...] = ()
    fatal: str | None = None
    interrupted: str | None = None
    degraded: str | None = None


#: Stats key: requests of the round that did not go to the site (the closing ``data:`` one).
NOT_THE_SITE = "wpwatch/requests_not_to_the_site"

# The items that may carry a type's new watermarks (see `PostsFetched.type_state`).
STATE_CARRIERS = (PostsFetched, PostGone)
