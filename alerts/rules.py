"""Routing: which changes go to which channel, and when (immediate, per round, daily)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.exceptions import ConfigError
from core.values import DIGEST_MODES, HEALTH_KINDS, KINDS, parse_duration
from diffs.scripts import UNSPACED_RANGES, has_unspaced

ROUTING_KEYS = {"name", "channel", "sites", "kinds", "keywords", "digest", "digest_at",
                "burst_threshold", "burst_window"}
#: What a route may ask for: changes of posts, and the health of the watch itself.
ALERT_KINDS = KINDS + HEALTH_KINDS
BURST_THRESHOLD = 10  # more changes of one kind than this within the window: one alert
BURST_WINDOW = 3600.0
# A letter or digit of a script written with spaces: what a whole-word keyword may not touch.
_SPACED_WORD_CHAR = rf"[^\W{UNSPACED_RANGES}]"


@dataclass(frozen=True)
class Route:
    channel: str
    sites: tuple[str, ...] = ("*",)
    kinds: frozenset[str] = frozenset(ALERT_KINDS)
    keywords: tuple[str, ...] = ()
    digest: str = "immediate"
    digest_at: tuple[int, int] = (8, 0)  # local time, for "daily"
    burst_threshold: int = BURST_THRESHOLD
    burst_window: float = BURST_WINDOW  # seconds

    def wants(self, site_url: str, site_name: str | None, kind: str) -> bool:
        in_sites = "*" in self.sites or site_url in self.sites or (site_name in self.sites)
        return in_sites and kind in self.kinds

    def due(self, now: datetime) -> datetime:
        """When an alert raised now may be sent: now, or the next daily digest time."""
        if self.digest != "daily":
            return now
        local = now.astimezone()
        at = local.replace(hour=self.digest_at[0], minute=self.digest_at[1], second=0,
                           microsecond=0)
        if at <= local:
            at += timedelta(days=1)
        return at.astimezone(UTC)


def route_from_config(entry: Mapping[str, Any]) -> Route:
    name = str(entry.get("name") or "")
    where = f"alerts.{name or '?'}"
    if not name:
        raise ConfigError("each [[alerts]] needs a name")
    sites = entry.get("sites", ["*"])
    # Health alerts come by default, except to a route that watches for keywords.
    kinds = entry.get("kinds", list(KINDS if entry.get("keywords") else ALERT_KINDS))
    keywords = entry.get("keywords", [])
    for key, value in (("sites", sites), ("kinds", kinds), ("keywords", keywords)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}.{key} must be a list of strings")
    bad = set(kinds) - set(ALERT_KINDS)
    if bad:
        raise ConfigError(
            f"{where}.kinds: unknown {', '.join(sorted(bad))}; use {', '.join(ALERT_KINDS)}"
        )
    threshold = entry.get("burst_threshold", BURST_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ConfigError(f"{where}.burst_threshold must be a whole number, at least 1 "
                          f"(got {threshold!r})")
    window = parse_duration(entry.get("burst_window", BURST_WINDOW), f"{where}.burst_window")
    digest = str(entry.get("digest", "immediate"))
    if digest not in DIGEST_MODES:
        raise ConfigError(
            f"{where}.digest must be one of {', '.join(DIGEST_MODES)}, not {digest!r}"
        )
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(entry.get("digest_at", "08:00")))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"{where}.digest_at must look like \"08:00\"")
    return Route(
        channel=name,
        sites=tuple(sites),
        kinds=frozenset(kinds),
        keywords=tuple(k for k in keywords if k.strip()),
        digest=digest,
        digest_at=(int(m.group(1)), int(m.group(2))),
        burst_threshold=threshold,
        burst_window=window,
    )


def routes_from_config(entries: Iterable[Mapping[str, Any]]) -> list[Route]:
    routes = [route_from_config(e) for e in entries]
    names = [r.channel for r in routes]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"[[alerts]] names must be unique: {', '.join(sorted(dupes))}")
    return routes


def _words(norm: Mapping[str, Any] | None) -> str:
    if not norm:
        return ""
    parts = [str(norm.get("title") or ""), *(str(b) for b in norm.get("text") or []),
             str(norm.get("excerpt") or "")]
    return " ".join(" ".join(parts).split()).casefold()


def keyword_hits(
    keywords: Iterable[str], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """Keywords (words or phrases, case-insensitive) that appeared in or disappeared from a post."""
    before, after = _words(old), _words(new)
    hits = []
    for kw in keywords:
        pattern = keyword_pattern(kw)
        if bool(pattern.search(before)) != bool(pattern.search(after)):
            hits.append(kw)
    return tuple(hits)


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """What finds ``keyword`` in casefolded text: whole words, except at an edge in a script
    written without spaces (Chinese, Japanese, Thai…), where any neighbour is fine, since
    nothing there separates words: 伊力哈木 is found in 今天伊力哈木·土赫提被判处…, "Tohti"
    is not found in "Tohtiyev", and "Ilham" is found in "Ilham伊力哈木"."""
    needle = " ".join(keyword.split()).casefold()
    head = "" if has_unspaced(needle[:1]) else rf"(?<!{_SPACED_WORD_CHAR})"
    tail = "" if has_unspaced(needle[-1:]) else rf"(?!{_SPACED_WORD_CHAR})"
    return re.compile(head + re.escape(needle) + tail)
