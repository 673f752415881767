"""Pure change detection: a post's canonical form, its hash, and what changed between two."""

from __future__ import annotations

from diffs.compare import changed_fields, compare, field_details
from diffs.normalize import SCHEMA_VERSION, content_hash, normalize, revision_count

__all__ = [
    "SCHEMA_VERSION",
    "changed_fields",
    "compare",
    "content_hash",
    "field_details",
    "normalize",
    "revision_count",
]
