"""The evidence archive: sites, raw responses, versions, changes, rounds."""

from archive.exceptions import ArchiveError
from archive.rounds import SiteMemory
from archive.store import Archive, KnownPost, PostRecord, RawResponse, TypeState, utcnow

__all__ = [
    "Archive",
    "ArchiveError",
    "KnownPost",
    "PostRecord",
    "RawResponse",
    "SiteMemory",
    "TypeState",
    "utcnow",
]
