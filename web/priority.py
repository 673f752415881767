"""The priority score of a change: a pure function of the change itself and the settings.

In the spirit of EDGI's web-monitoring significance scores: what kind of change it is,
what changed, whether a watched keyword is in the changed text, and how much the site
matters to the team. The formula (also in the README, "Reviewing as a team")::

    priority = weight × (kind + Σ fields + keywords)

    kind      deleted 1.0, unpublished 1.0, new 0.5, restored 0.5, edited 0
    fields    (an edited or restored post; each changed field once)
              date 0.75 (back-dating), links 0.75, title 0.5, content 0.5, status 0.5,
              protected 0.5, slug 0.25, link 0.25, excerpt 0.25, author 0.25, media 0.25,
              featured_media 0.25, each taxonomy 0.25, markup 0, anything else 0.1
    keywords  0.5 per distinct keyword of the alert routes found in the title or the
              changed text (case-insensitive), at most 1.5
    weight    the site's ``[[sites]] weight`` (default 1)

A deleted post on a site of weight 2 whose text held a watched keyword scores
2 × (1 + 0.5) = 3.0; a markup-only edit scores 0.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

KIND_POINTS = {"deleted": 1.0, "unpublished": 1.0, "new": 0.5, "restored": 0.5, "edited": 0.0}
FIELD_POINTS = {
    "date": 0.75, "links": 0.75, "title": 0.5, "content": 0.5, "status": 0.5, "protected": 0.5,
    "slug": 0.25, "link": 0.25, "excerpt": 0.25, "author": 0.25, "media": 0.25,
    "featured_media": 0.25, "markup": 0.0,
}  # fmt: skip
OTHER_FIELD = 0.1
TAXONOMY_FIELD = 0.25
KEYWORD_POINTS = 0.5
KEYWORDS_MAX = 1.5
NOT_TAXONOMIES = frozenset({"sticky", "parent", "format"})
SEARCH_CHARS = 4000  # of changed text kept per change for search and keywords


def priority(kind: str, fields: Sequence[str], text: str, keywords: Iterable[str],
             weight: float = 1.0) -> float:
    """The score of one change (see the module doc); ``text`` is its title and changed text."""
    points = KIND_POINTS.get(kind, 0.0)
    if kind in ("edited", "restored"):
        points += sum(_field_points(f) for f in set(fields))
    lowered = text.lower()
    hits = {k.lower() for k in keywords if k.strip() and k.lower() in lowered}
    points += min(KEYWORDS_MAX, KEYWORD_POINTS * len(hits))
    return round(weight * points, 2)


def _field_points(field: str) -> float:
    if field in FIELD_POINTS:
        return FIELD_POINTS[field]
    if field in NOT_TAXONOMIES:
        return OTHER_FIELD
    return TAXONOMY_FIELD if field.isidentifier() else OTHER_FIELD


def changed_text(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    """The title and the text blocks only one side has (the whole text of a new or gone
    post), as one lower-cased string for search and keywords; cheap: no word diff."""
    shown = new if new is not None else old
    title = str((shown or {}).get("title") or "")
    before = [str(b) for b in (old or {}).get("text") or []]
    after = [str(b) for b in (new or {}).get("text") or []]
    if old is None or new is None:
        blocks = after or before
    else:
        kept_before, kept_after = set(before), set(after)
        blocks = [b for b in before if b not in kept_after] + [
            b for b in after if b not in kept_before
        ]
        old_title = str(old.get("title") or "")
        if old_title != title:
            title = f"{old_title} {title}"
    return " ".join([title, *blocks]).lower()[:SEARCH_CHARS]


def settings_hash(keywords: Iterable[str], weights: Mapping[str, float]) -> str:
    """Tells when stored scores were computed with other keywords or weights."""
    data = {"keywords": sorted({k.lower() for k in keywords if k.strip()}),
            "weights": dict(sorted(weights.items())), "formula": 1}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
