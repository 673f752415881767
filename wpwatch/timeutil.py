"""Parsing `--since` values: a duration back from now ("7d") or an ISO date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wpwatch.config import parse_duration
from wpwatch.exceptions import ConfigError


def since_to_iso(value: str | None) -> str | None:
    """'7d' / '90m' → the UTC instant that long ago; '2026-11-01' → that day, UTC."""
    if not value:
        return None
    try:
        seconds = parse_duration(value, "--since")
        dt = datetime.now(UTC) - timedelta(seconds=seconds)
    except ConfigError:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"bad --since {value!r}: use a duration (\"7d\", \"12h\") or a date (2026-11-01)"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
