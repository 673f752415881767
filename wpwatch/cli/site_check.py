"""Is this a WordPress site we can watch? The check `wpwatch sites add` makes before saving.

Reachable, a WordPress REST API (found as the crawler finds it, docs/wordpress-rest.md
§2: the home page's ``Link`` header or ``<link rel="https://api.w.org/">``, then
``/wp-json/``, then ``/?rest_route=/``), open (§10), and listing in ``/wp/v2/types``
every REST base asked for.
A handful of small GETs with a short timeout; the pure rules are the crawler's own
(:mod:`crawler.wpapi`). Each failure is one error from the tree, in plain words that
the caller prefixes with the site ("cannot add https://x.org: ...").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from core.about import USER_AGENT
from core.exceptions import (
    ConfigError,
    HTTPFault,
    NotWordPress,
    RestClosed,
    Unreachable,
    WPApiError,
)
from crawler import wpapi

TIMEOUT = 15.0  # seconds, per request
MAX_BYTES = 5_000_000  # a home page or index larger than this is read no further
NO_CHECK_HINT = "add it anyway with --no-check"


def check_site(url: str, types: Sequence[str] = ()) -> list[str]:
    """The REST bases of `url`'s public content types; raises when it cannot be watched.

    Raises :class:`Unreachable`, :class:`HTTPFault`, :class:`NotWordPress`,
    :class:`RestClosed` or :class:`WPApiError`, and :class:`ConfigError` when a name in
    `types` is not one of the site's types (the message lists the ones it has).
    """
    with requests.Session() as session:
        session.headers["User-Agent"] = USER_AGENT
        root = _api_root(session, url)
        status, body = _get(session, wpapi.route_url(root, "wp/v2/types"))
        closed = wpapi.closed_reason(status, body)
        if closed:
            raise RestClosed(closed)
        if status != 200:
            raise HTTPFault(f"HTTP {status} from its /wp/v2/types; {NO_CHECK_HINT}")
        available = [t.rest_base for t in wpapi.watchable_types(wpapi.parse_json(body))]
    unknown = [t for t in types if t not in available]
    if unknown:
        raise ConfigError(
            f"it has no content type {', '.join(unknown)}; "
            f"available: {', '.join(available) or 'none'}"
        )
    return available


def _api_root(session: requests.Session, url: str) -> str:
    home = wpapi.home_url(url)
    status, body, headers = _fetch(session, home)
    if status >= 500 or status == 429:
        raise HTTPFault(f"HTTP {status} from {home}; try again later or {NO_CHECK_HINT}")
    root = wpapi.api_root_from_link_header(headers.get_all("Link"), home) or (
        wpapi.api_root_from_html(body.decode("utf-8", "replace"), home)
    )
    if root:
        return root
    for candidate in wpapi.fallback_roots(url):
        status, body = _get(session, candidate)
        if wpapi.closed_reason(status, body):
            raise RestClosed(str(wpapi.closed_reason(status, body)))
        if status == 200:
            try:
                if wpapi.is_api_index(wpapi.parse_json(body)):
                    return candidate
            except WPApiError:
                continue
    raise NotWordPress(
        "not a WordPress site with a public REST API (no api.w.org link, /wp-json/ or "
        "?rest_route=/); check the URL (a subdirectory install needs its path, e.g. "
        "https://example.org/en)"
    )


class _Headers:
    def __init__(self, response: requests.Response) -> None:
        self._raw = response.raw.headers if response.raw is not None else None
        self._plain = response.headers

    def get_all(self, name: str) -> list[str]:
        if self._raw is not None and hasattr(self._raw, "getlist"):
            return list(self._raw.getlist(name))
        value = self._plain.get(name)
        return [value] if value else []


def _get(session: requests.Session, address: str) -> tuple[int, bytes]:
    status, body, _ = _fetch(session, address)
    return status, body


def _fetch(session: requests.Session, address: str) -> tuple[int, bytes, Any]:
    try:
        with session.get(address, timeout=TIMEOUT, stream=True) as response:
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) >= MAX_BYTES:
                    break
            return response.status_code, body, _Headers(response)
    except requests.Timeout:
        raise Unreachable(
            f"no answer from {address} within {TIMEOUT:.0f} s; {NO_CHECK_HINT}"
        ) from None
    except requests.ConnectionError as exc:
        raise Unreachable(
            f"unreachable ({_reason(exc)}); check the URL, or {NO_CHECK_HINT}"
        ) from None
    except requests.RequestException as exc:
        raise Unreachable(f"{address} could not be read ({type(exc).__name__}); "
                          f"{NO_CHECK_HINT}") from None


def _reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    for needle, words in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "no such host"),
        ("nodename nor servname", "no such host"),
        ("getaddrinfo failed", "no such host"),
        ("Temporary failure in name resolution", "DNS lookup failed"),
        ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted"),
        ("Connection reset", "connection reset"),
    ):
        if needle in text:
            return words
    return "no connection"
