"""Plain values every layer shares: change kinds, time stamps, durations, `env:` references,
canonical JSON and site URLs. The bottom of the house: it imports nothing of wpwatch but its
error tree, so the archive, the crawler, the diffs and the alerts can all rely on it.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from core.exceptions import BadURL, ConfigError

#: The five kinds of change, in the order reports and summaries list them.
KINDS = ("new", "edited", "unpublished", "deleted", "restored")

#: What an `edited` change can name (`changes --json` "fields"), in report order; a taxonomy
#: is named by its REST base after TERMS_PREFIX ("terms:categories", "terms:tags").
CHANGE_FIELDS = (
    "title", "content", "links", "media", "excerpt", "slug", "link", "date", "author", "terms",
    "featured_media", "sticky", "protected", "status", "parent", "format", "markup",
)  # fmt: skip
TERMS_PREFIX = "terms:"
#: Alert kinds about watching itself, not about a post: a site that cannot be watched, one
#: watched through its feed only (REST API closed), and one watched fully again.
HEALTH_KINDS = ("site-failing", "site-degraded", "site-recovered")

#: When an alert route sends: at once, once per round, or once a day.
DIGEST_MODES = ("immediate", "round", "daily")


# -- time ---------------------------------------------------------------------------------
def iso_utc(dt: datetime) -> str:
    """ISO 8601 UTC with a Z and millisecond precision: sorts as text. Naive means UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def utcnow() -> str:
    """Now, as :func:`iso_utc` writes it."""
    return iso_utc(datetime.now(UTC))


def parse_iso(value: str) -> datetime:
    """An ISO 8601 stamp as written by :func:`iso_utc` (or WordPress's `*_gmt`) → aware UTC."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any, what: str = "duration") -> float:
    """'90s', '15m', '2h', '1d', '1w' (or a number of seconds) → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(
                f"bad {what} {value!r}: use e.g. \"90s\", \"15m\", \"2h\", \"1d\", \"1w\""
            )
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ConfigError(f"bad {what} {value!r}: must be positive")
    return seconds


def since_to_iso(value: str | None) -> str | None:
    """`--since`: '7d' / '90m' / '1w' → the UTC instant that long ago; '2026-11-01' → that day."""
    if not value:
        return None
    try:
        dt = datetime.now(UTC) - timedelta(seconds=parse_duration(value, "--since"))
    except ConfigError:
        try:
            dt = parse_iso(value)
        except ValueError:
            raise ConfigError(
                f"bad --since {value!r}: use a duration (\"7d\", \"12h\", \"1w\") "
                f"or a date (2026-11-01)"
            ) from None
    return iso_utc(dt)


# -- secrets ------------------------------------------------------------------------------
def resolve_env(value: Any, what: str) -> Any:
    """`"env:NAME"` → the variable's value; a missing one is an error naming it."""
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ConfigError(f"{what} refers to environment variable {name}, which is not set")
        return os.environ[name]
    return value


# -- canonical JSON -----------------------------------------------------------------------
def canonical_json(obj: Any) -> bytes:
    """The one serialization that gets hashed: sorted keys, no spaces, UTF-8.

    Lone surrogates (which JSON allows and some sites send) are kept as they came.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


# -- site URLs ----------------------------------------------------------------------------
def normalize_site_url(url: str) -> str:
    """The one form of a site URL: http(s), host lower-case, no trailing slash, no fragment.

    The path is kept (subdirectory installs such as https://x.org/en), so `/en/` and
    `/en` are one site. A query string is refused, except `?rest_route=…` (the REST
    address of a site without pretty permalinks), which is dropped: the site is its
    home page, and discovery finds `?rest_route=` by itself. Raises :class:`BadURL`
    with a one-line reason.
    """
    raw = url
    url = url.strip()
    if not url:
        raise BadURL("empty site URL")
    if any(ch.isspace() for ch in url):
        raise BadURL(f"bad site URL {raw!r}: it contains a space")
    if "://" not in url:
        raise BadURL(f"bad site URL {raw!r}: add http:// or https://")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise BadURL(f"bad site URL {raw!r}: only http:// and https:// sites can be watched")
    try:
        port = parts.port
    except ValueError:
        raise BadURL(f"bad site URL {raw!r}: the port is not a number from 1 to 65535") from None
    if not parts.hostname or port == 0:
        what = "no host" if not parts.hostname else "port 0"
        raise BadURL(f"bad site URL {raw!r}: {what}")
    if parts.query and any(k != "rest_route" for k, _ in parse_qsl(parts.query, True)):
        raise BadURL(
            f"bad site URL {raw!r}: give the site's home page without a query string"
        )
    if parts.username or parts.password:
        raise BadURL(f"bad site URL {raw!r}: no user or password in the URL")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))
