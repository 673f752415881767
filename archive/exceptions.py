"""Errors raised by the archive."""

from __future__ import annotations

from core.exceptions import ArchiveError, ExportError, TimestampError

__all__ = ["ArchiveError", "ExportError", "TimestampError"]
