"""What the spider hands to the pipeline: fetched posts and verdicts on gone posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive import PostRecord, RawResponse


@dataclass
class PostsFetched:
    """Full records of some posts of one type, and the response they came in."""

    type: str
    response: RawResponse
    posts: list[tuple[int | None, dict[str, Any]]] = field(repr=False)  # (index, record)
    baseline: bool = False


@dataclass
class PostGone:
    """A published post that a direct GET proved deleted (404) or unpublished (401/403)."""

    type: str
    wp_id: int
    kind: str
    response: RawResponse


@dataclass
class FallbackFetched:
    """Posts degraded mode found (REST closed): from the RSS feed or a post's page.

    Only posts the archive does not know are stored (``source`` in their
    normalized form says where they came from); a baseline raises no change.
    """

    type: str
    response: RawResponse
    records: list[PostRecord] = field(repr=False)
    baseline: bool = False
