"""The PHP and WordPress value conventions the demo site copies byte for byte.

JSON as ``json_encode`` writes it, REST dates (no ``Z``), ``wp_parse_list``,
``rest_is_integer``, ``sanitize_title``-like slugs, automatic excerpts, RSS
escaping and ``$_GET`` parsing: small pure functions, no site state.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

WP_VERSION = "6.1.9"
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
_REST_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}(?::\d{2})?)?$"
)
_NUMERIC_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def rest_date(dt: datetime) -> str:
    return dt.strftime(DATE_FMT)


def php_json(obj: Any) -> bytes:
    """JSON the way PHP's ``json_encode`` writes it: ASCII only, ``\\/`` for ``/``."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def php_urlencode(value: str) -> str:
    return quote_plus(value, safe="").replace("~", "%7E")


def utc_naive(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.replace(microsecond=0)


def and_list(items: Sequence[str]) -> str:
    """PHP ``wp_sprintf_l('%l', …)``: "a, b, and c" / "a and b"."""
    items = list(items)
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


def parse_list(raw: Any) -> list[str]:
    """``wp_parse_list``: split a string on commas and whitespace."""
    if isinstance(raw, list):
        out: list[str] = []
        for item in raw:
            out.extend(parse_list(item))
        return out
    return [p for p in re.split(r"[\s,]+", str(raw)) if p]


def php_int(raw: Any) -> int | None:
    """``rest_is_integer``: numeric and integral ("2", "2.0", "1e1"); else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    text = str(raw)
    if not _NUMERIC_RE.match(text):
        return None
    value = float(text)
    if not value.is_integer():
        return None
    return int(value)


def php_bool(raw: Any) -> bool | None:
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    return None


def parse_rest_date(value: str) -> tuple[datetime, timedelta | None] | None:
    """Parse an RFC 3339 date the way ``rest_parse_date`` accepts it.

    Returns the naive wall-clock time and its UTC offset (None when the value
    carries none), or None when WordPress would answer ``Invalid date.``.
    """
    m = _REST_DATE_RE.match(value)
    if not m:
        return None
    try:
        year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    tz = m.group(7)
    if tz is None:
        return naive, None
    if tz == "Z":
        return naive, timedelta(0)
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return naive, sign * timedelta(hours=hours, minutes=minutes)


_TAG_RE = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def strip_tags(text: str) -> str:
    return _TAG_RE.sub(" ", text)


def auto_excerpt(content: str, words: int = 55) -> str:
    """``wp_trim_excerpt`` + ``wpautop``: 55 words then `` [&hellip;]``."""
    parts = strip_tags(content).split()
    text = " ".join(parts[:words])
    if len(parts) > words:
        text += " [&hellip;]"
    return f"<p>{text}</p>\n" if text else ""


def slugify(text: str) -> str:
    """A close cousin of ``sanitize_title``: accents removed, non-Latin kept percent-encoded."""
    text = html.unescape(strip_tags(text))
    text = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    for ch in text:
        if unicodedata.combining(ch):
            continue
        if ch.isascii():
            out.append(ch.lower() if ch.isalnum() else "-")
        elif ch.isalnum():
            out.append("".join(f"%{b:02x}" for b in ch.encode()))
        else:
            out.append("-")
    slug = re.sub(r"-+", "-", "".join(out)).strip("-")
    return slug[:200].rstrip("-")


def xml_escape(text: str) -> str:
    return html.escape(text, quote=True)


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def rfc822(utc_naive: datetime) -> str:
    return utc_naive.strftime("%a, %d %b %Y %H:%M:%S +0000")


def plain_text(text: str) -> str:
    """Rendered HTML title → text for feeds and pages (entities decoded, tags dropped)."""
    return html.unescape(strip_tags(text)).strip()


def php_get(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``$_GET`` from query pairs: the last value wins, ``key[]`` collects a list."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            base = key[:-2]
            current = out.get(base)
            if not isinstance(current, list):
                current = []
            current.append(value)
            out[base] = current
        else:
            out[key] = value
    return out
