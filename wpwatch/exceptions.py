"""Errors a user can fix; the CLI turns each into one line on stderr and exit 2."""

from __future__ import annotations


class WPWatchError(Exception):
    """Base of wpwatch's user-facing errors."""


class ConfigError(WPWatchError):
    """wpwatch.toml is missing, malformed, or refers to a missing variable."""
