"""Errors raised by the archive."""

from __future__ import annotations


class ArchiveError(Exception):
    """The archive cannot be opened or used (bad URL, newer schema, I/O)."""
