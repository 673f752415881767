"""Pure functions about the WordPress REST API: discovery, URLs, dates, verdicts.

Nothing here does I/O; the spider feeds it what it fetched. The facts behind
each rule are in docs/wordpress-rest.md (its section numbers in comments).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from core.exceptions import WPApiError

API_REL = "https://api.w.org/"

# Types every WordPress lists in /wp/v2/types that are not reader content (docs §3).
INTERNAL_TYPES = frozenset(
    {
        "attachment",
        "nav_menu_item",
        "wp_block",
        "wp_template",
        "wp_template_part",
        "wp_navigation",
        "wp_global_styles",
        "wp_font_family",
        "wp_font_face",
    }
)

WP_DATE = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class ContentType:
    slug: str  # "post"
    rest_base: str  # "posts"
    namespace: str  # "wp/v2"

    @property
    def route(self) -> str:
        return f"{self.namespace}/{self.rest_base}"



def home_url(site_url: str) -> str:
    return site_url.rstrip("/") + "/"


def api_root_from_link_header(values: Iterable[str], base_url: str) -> str | None:
    """The URL in a `Link: <…>; rel="https://api.w.org/"` header (docs §2)."""
    for value in values:
        for part in _split_link_header(value):
            m = re.match(r"\s*<([^>]*)>(.*)", part)
            if not m:
                continue
            rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', m.group(2))
            if any(r.strip() == API_REL for rel in rels for r in rel.split()):
                return urljoin(base_url, m.group(1).strip())
    return None


def _split_link_header(value: str) -> list[str]:
    # Commas separate links, but may appear inside <…> URLs.
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in value:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)


def api_root_from_html(html: str, base_url: str) -> str | None:
    """The href of `<link rel="https://api.w.org/" href="…">` in a home page."""
    for tag in _LINK_TAG.findall(html[:500_000]):
        rel = re.search(r"""rel\s*=\s*["']([^"']*)["']""", tag, re.IGNORECASE)
        href = re.search(r"""href\s*=\s*["']([^"']*)["']""", tag, re.IGNORECASE)
        if rel and href and API_REL in rel.group(1).split():
            return urljoin(base_url, href.group(1).replace("&amp;", "&").strip())
    return None


def fallback_roots(site_url: str) -> list[str]:
    """Where to look when the home page names no API: pretty, then plain permalinks."""
    base = home_url(site_url)
    return [base + "wp-json/", base + "?rest_route=/"]


def route_url(api_root: str, route: str, params: Mapping[str, Any] | None = None) -> str:
    """The URL of `route` (e.g. "wp/v2/posts") under an API root.

    Handles both `…/wp-json/` roots and `…/?rest_route=/` roots (sites without
    pretty permalinks, docs §2).
    """
    parts, root_query = _split_root(api_root)
    query = list(root_query)
    extra = [(k, _param(v)) for k, v in (params or {}).items() if v is not None]
    if any(k == "rest_route" for k, _ in query):
        base_route = dict(query)["rest_route"].rstrip("/")
        query = [(k, v) for k, v in query if k != "rest_route"]
        query.append(("rest_route", f"{base_route}/{route.lstrip('/')}"))
        return urlunsplit(parts._replace(query=urlencode(query + extra, safe="/,")))
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit(
        parts._replace(path=path + route.lstrip("/"), query=urlencode(query + extra, safe="/,"))
    )


@functools.lru_cache(maxsize=1024)  # a round asks several routes of one root
def _split_root(api_root: str) -> tuple[SplitResult, tuple[tuple[str, str], ...]]:
    parts = urlsplit(api_root)
    return parts, tuple(parse_qsl(parts.query, keep_blank_values=True))


def _param(v: Any) -> str:
    if isinstance(v, (list, tuple, set)):
        return ",".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_TRAILING_COMMENTS = re.compile(r"^\s*(?:<!--.*?-->\s*)*$", re.DOTALL)
_HTML_DOC = re.compile(rb"^\s*(?:<!doctype|<html|<head|<body)", re.IGNORECASE)


def parse_json(body: bytes) -> Any:
    """Parse a REST body, repairing what sites in the wild wrap around their JSON.

    Accepted and repaired: a UTF-8 BOM, PHP notices/warnings printed before the
    JSON, HTML comments that cache plugins append after it. Rejected: an HTML
    page (even with status 200) and truncated JSON. The raw bytes are stored as
    received either way; only the parse is forgiving.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        pass
    if _HTML_DOC.match(body):
        raise WPApiError("answered an HTML page instead of JSON")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Invalid bytes inside otherwise sound JSON (a broken plugin or proxy):
        # read them as U+FFFD, deterministically, rather than lose the page.
        try:
            return _parse_text(body.decode("utf-8", errors="replace"))
        except WPApiError:
            raise WPApiError("response is not UTF-8 JSON") from None
    return _parse_text(text)


def _parse_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise WPApiError("response is not JSON")
    start = min(starts)
    prefix = text[:start]
    if prefix.strip() and not _looks_like_notices(prefix):
        raise WPApiError("response is not JSON")
    try:
        doc, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        raise WPApiError("truncated or malformed JSON") from None
    if not _TRAILING_COMMENTS.match(text[end:]):
        raise WPApiError("JSON followed by unexpected content")
    return doc


def _looks_like_notices(prefix: str) -> bool:
    """PHP notices/warnings/deprecations that a misconfigured site prints first."""
    low = prefix.lower()
    return any(w in low for w in ("notice", "warning", "deprecated", "<br", "php ", "error"))


# Codes that plugins answer when they close the REST API (docs §10).
CLOSED_CODES = frozenset(
    {"rest_cannot_access", "rest_login_required", "itsec_rest_api_access_restricted"}
)


def closed_reason(status: int, body: bytes) -> str | None:
    """Why a REST answer means "the REST API is closed", in the words status shows; else None.

    401/403 with a plugin's closing code ("Disable REST API", Solid Security), 404
    ``rest_no_route`` (the route was removed) or a 401/403 HTML page (a web-server
    rule). Other 401 codes (``rest_cannot_view`` on menu items, ``rest_forbidden``
    on one post) are not a closed API. A Cloudflare challenge is checked before this.
    """
    if status not in (401, 403, 404):
        return None  # before reading the body: a listing's 200 is most answers
    code = error_code(body)
    if status in (401, 403) and code in CLOSED_CODES:
        return f"{status} {code}"
    if status == 404 and code == "rest_no_route":
        return "404 rest_no_route"
    html = _HTML_DOC.match(body.removeprefix(b"\xef\xbb\xbf"))
    if status in (401, 403) and code is None and html:
        return f"{status} HTML page"
    return None


def is_api_index(doc: Any) -> bool:
    """True when doc looks like a WordPress REST index (/wp-json/)."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("namespaces"), list)
        and "wp/v2" in doc["namespaces"]
    )


def watchable_types(types_doc: Any) -> list[ContentType]:
    """Public content types from /wp/v2/types, skipping WordPress's internal ones (docs §3)."""
    if not isinstance(types_doc, dict):
        raise WPApiError("/wp/v2/types did not answer a JSON object")
    out = []
    for slug, info in types_doc.items():
        if slug in INTERNAL_TYPES or not isinstance(info, dict):
            continue
        base = info.get("rest_base") or slug
        ns = info.get("rest_namespace") or "wp/v2"
        out.append(ContentType(slug=slug, rest_base=str(base), namespace=str(ns)))
    return out


def error_code(body: bytes) -> str | None:
    """The `code` of a WordPress REST error body, if it is one."""
    try:
        doc = parse_json(body)
    except WPApiError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("code"), str):
        return doc["code"]
    return None


def classify_gone(status: int, body: bytes) -> str | None:
    """The verdict on a post that left the listing, from a direct GET (docs §8).

    404 `rest_post_invalid_id` → "deleted"; 401/403 `rest_forbidden` → "unpublished";
    200 → "present", or "unpublished" for a trashed post (seen with a login).
    Anything else (5xx, HTML, a WAF challenge, an unknown code) is no verdict:
    None, and the post stays as it was.
    """
    if status == 200:
        try:
            doc = parse_json(body)
        except WPApiError:
            return None
        if isinstance(doc, dict) and "id" in doc:
            # only a request with a login sees a trashed post (200, status "trash")
            return "unpublished" if doc.get("status") == "trash" else "present"
        return None
    code = error_code(body)
    if status == 404 and code == "rest_post_invalid_id":
        return "deleted"
    if status in (401, 403) and code == "rest_forbidden":
        return "unpublished"
    return None


def parse_gmt(value: str | None) -> datetime | None:
    """A WordPress `*_gmt` value (no Z, docs §5) as an aware UTC datetime."""
    text = (value or "")[:19]
    if len(text) != 19 or text[10] != "T":  # WP_DATE's shape only, as strptime would
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)  # strptime: 5x the CPU
    except ValueError:
        return None


def query_date(stamp: str | None, overlap: timedelta) -> str | None:
    """A date for `modified_after`/`after`: stamp minus overlap, with an explicit Z.

    WordPress reads a date without an offset as site-local time and compares
    strictly (docs §6), so we always send UTC with `Z` and step back.
    """
    dt = parse_gmt(stamp)
    if dt is None:
        return None
    return (dt - overlap).strftime(WP_DATE) + "Z"


def max_stamp(*stamps: str | None) -> str | None:
    vals = [x for x in stamps if x]
    return max(vals) if vals else None


def total_header(headers: Mapping[str, Any] | None, name: str = "X-WP-Total") -> int | None:
    """An integer header such as X-WP-Total from a response's headers (Scrapy's, which
    ignore case and give the last value as bytes)."""
    if not headers:
        return None
    value = headers.get(name.lower())
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
