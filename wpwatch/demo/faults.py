"""The ways a demo site fails on purpose.

Queued failures (``fail_next``: 429, 5xx, a Cloudflare-like challenge) and the
REST lockouts of ``rest_mode`` (a "Disable REST API" plugin, Solid Security, a
web-server rule; docs/wordpress-rest.md §10). Faults that need broken bytes or held
connections belong to the test suite's fault server, which wraps a :class:`DemoSite`.
"""

from __future__ import annotations

from collections.abc import Mapping

from wpwatch.demo.params import (
    RestError,
)
from wpwatch.demo.response import Response
from wpwatch.demo.site_model import SiteModel


class SiteFaults(SiteModel):
    """Answer the next matching requests with a chosen failure."""

    def fail_next(
        self,
        status: int = 503,
        *,
        count: int = 1,
        retry_after: int | str | None = None,
        path_contains: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (429, 5xx, a
        Cloudflare-like 403 with ``headers={"cf-mitigated": "challenge"}`` …)."""
        hdrs = list((headers or {}).items())
        if retry_after is not None:
            hdrs.append(("Retry-After", str(retry_after)))
        with self._lock:
            self._failures.append(
                {
                    "status": status,
                    "left": count,
                    "match": path_contains,
                    "headers": hdrs,
                    "body": body.encode() if isinstance(body, str) else body,
                }
            )

    def clear_failures(self) -> None:
        """Forget every failure queued by ``fail_next``: the site is healthy again."""
        with self._lock:
            self._failures.clear()

    def _injected(self, target: str) -> Response | None:
        with self._lock:
            for failure in self._failures:
                if failure["match"] is None or failure["match"] in target:
                    failure["left"] -= 1
                    if failure["left"] <= 0:
                        self._failures.remove(failure)
                    headers = [("Content-Type", "text/html; charset=UTF-8"), *failure["headers"]]
                    return Response(failure["status"], headers, failure["body"])
        return None


def blocked_by_web_server() -> Response:
    """``rest_mode="blocked"``: a web-server rule answers every REST URL with Apache's HTML 403."""
    return Response(
        403,
        [("Content-Type", "text/html; charset=iso-8859-1")],
        b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>'
        b"<title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>You "
        b"don't have permission to access this resource.</p></body></html>\n",
    )


def rest_lockout(rest_mode: str, route: str) -> RestError | None:
    """The error a REST-locking plugin answers for ``route``, or None when it lets it through.

    ``"disabled"`` is a "Disable REST API" plugin (every route); ``"restricted"`` is
    Solid Security (content routes only: the index and ``/wp/v2`` stay open).
    """
    if rest_mode == "disabled":
        return RestError(
            "rest_cannot_access",
            "DRA: Only authenticated users can access the REST API.",
            401,
        )
    if rest_mode == "restricted" and route not in ("/", "/wp/v2"):
        return RestError(
            "itsec_rest_api_access_restricted",
            "You do not have sufficient permission to access this endpoint. Access to "
            "REST API requests is restricted by Solid Security Settings.",
            401,
        )
    return None
