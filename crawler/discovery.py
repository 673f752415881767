"""Finding a site's REST API and the content types it exposes.

Discovery (the `Link: rel="https://api.w.org/"` header or `<link>` of the
home page, then `/wp-json/`, then `/?rest_route=/`) runs only until a root
is found; later rounds use the stored root and report its faults as faults.
"Not a WordPress site" is said only when the site answered normally and
showed no REST API; a site that errs, times out or sends broken JSON is
reported as doing exactly that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.exceptions import (
    ConfigError,
    HTTPFault,
    NotWordPress,
    RestClosed,
    RoundError,
    Unreachable,
    WPApiError,
)
from crawler import wpapi
from crawler.fetcher import Fetcher, RoundTimedOut, TimedOut, link_headers

logger = logging.getLogger(f"wpwatch.{__name__}")

HTML_INSTEAD = "answered an HTML page instead of JSON"
#: What a site that is not WordPress answers on /wp-json/ or ?rest_route=/: its own page
#: (many servers ignore the query string) — normal for such a site, not a fault.
NOT_AN_API = (HTML_INSTEAD, "response is not JSON")


@dataclass(frozen=True)
class Discovered:
    api_root: str
    types: list[wpapi.ContentType]  # every public type the site exposes
    found_now: bool  # False: the stored root still answers


class _RootMoved(RoundError):
    """The stored API root answers as if it were gone (404, 410): discover again."""


async def discover(fetcher: Fetcher, stored_root: str | None, problems: list[str]) -> Discovered:
    """The API root (the stored one while it answers) and the site's public types."""
    if stored_root:
        try:
            return Discovered(stored_root, await fetch_types(fetcher, stored_root), False)
        except _RootMoved as exc:
            logger.info("%s: the stored API root moved (%s): discovering again",
                        fetcher.site_url, exc)
    root = await find_api_root(fetcher, problems, wordpress=bool(stored_root))
    try:
        types = await fetch_types(fetcher, root)
    except _RootMoved as exc:
        raise WPApiError(f"the REST API at {fetcher.where(root)} has no types route ({exc})"
                         ) from None
    return Discovered(root, types, True)


async def fetch_types(fetcher: Fetcher, root: str) -> list[wpapi.ContentType]:
    """The public types under `root` (/wp/v2/types), or the fault that prevented it."""
    url = wpapi.route_url(root, "wp/v2/types")
    resp = await fetcher.get(url)
    if resp.status != 200:
        reason = wpapi.closed_reason(resp.status, resp.body)
        if reason is not None:
            raise RestClosed(reason)
        fault = fetcher.fault(resp)
        if fault is not None:
            raise fault
        if resp.status in (404, 410):
            raise _RootMoved(f"HTTP {resp.status} from {fetcher.where(url)}")
        raise HTTPFault(f"HTTP {resp.status} from {fetcher.where(url)}")
    try:
        return wpapi.watchable_types(wpapi.parse_json(resp.body))
    except WPApiError as exc:
        raise WPApiError(f"{exc} from {fetcher.where(url)}") from None


async def find_api_root(fetcher: Fetcher, problems: list[str], *, wordpress: bool) -> str:
    """Discovery; `wordpress`: an earlier round found this site's API.

    A timed-out URL ends discovery at once (the other URLs of a host that
    does not answer would only time out too).
    """
    site_url = fetcher.site_url
    try:
        resp = await fetcher.get(wpapi.home_url(site_url), follow_redirects=True,
                                 retry_timeouts=False)
    except RoundTimedOut:
        raise
    except Unreachable as exc:
        raise type(exc)(f"cannot reach the site: {exc}") from None
    faults: list[RoundError] = []
    home_fault = fetcher.fault(resp)
    if home_fault is not None:
        faults.append(home_fault)
    candidates: list[str] = []
    header = wpapi.api_root_from_link_header(link_headers(resp), resp.url)
    if header:
        candidates.append(header)
    elif resp.status == 200 and hasattr(resp, "text"):
        found = wpapi.api_root_from_html(resp.text, resp.url)
        if found:
            candidates.append(found)
    # the home page (or an earlier round) says this is WordPress: an HTML 401/403
    # or an HTML page on the API is then a fault of the API, not "not WordPress"
    wordpress = wordpress or bool(candidates)
    hosts = {urlsplit(site_url).hostname, urlsplit(resp.url).hostname}
    for found in list(candidates):
        if urlsplit(found).hostname not in hosts and not fetcher.policy.allow_other_host:
            problems.append(
                f"the API link points to another host ({found}); not followed "
                f"(set allow_other_host for this site if that is expected)"
            )
            candidates.remove(found)
    candidates += [c for c in wpapi.fallback_roots(site_url) if c not in candidates]
    closed_html: str | None = None
    for root in candidates:
        try:
            index = await fetcher.get(root, retry_timeouts=False)
        except TimedOut:
            raise
        except (Unreachable, HTTPFault) as exc:
            faults.append(exc)
            continue
        if index.status == 200:
            try:
                doc = wpapi.parse_json(index.body)
            except WPApiError as exc:
                if wordpress or str(exc) not in NOT_AN_API:  # a plain site's page is normal
                    faults.append(WPApiError(f"{exc} from {fetcher.where(root)}"))
                continue
            if wpapi.is_api_index(doc):
                return root
            continue
        reason = wpapi.closed_reason(index.status, index.body)
        if reason is not None and not reason.endswith("HTML page"):
            raise RestClosed(reason)  # WordPress itself (or a plugin) says so
        closed_html = closed_html or reason
        fault = fetcher.fault(index)
        if fault is not None:
            faults.append(fault)
    if closed_html and wordpress:
        raise RestClosed(closed_html)
    if faults:
        raise faults[0]
    raise NotWordPress(
        "not a WordPress site with a public REST API "
        "(no api.w.org link on the home page; /wp-json/ and ?rest_route=/ "
        "did not answer as WordPress)"
    )


def check_types(available: list[wpapi.ContentType], wanted: tuple[str, ...] | list[str]) -> None:
    """ConfigError naming the site's REST bases when `wanted` names a type it lacks."""
    unknown = [t for t in wanted if not any(t in (c.rest_base, c.slug) for c in available)]
    if unknown:
        have = ", ".join(c.rest_base for c in available) or "none"
        names = ", ".join(f'"{t}"' for t in unknown)
        raise ConfigError(f"it has no content type {names}; available: {have}")


def select_types(available: list[wpapi.ContentType],
                 wanted: tuple[str, ...]) -> list[wpapi.ContentType]:
    """The types to watch: those `wanted` names (REST base or slug), or all."""
    if not wanted:
        return list(available)
    return [t for t in available if t.rest_base in wanted or t.slug in wanted]
