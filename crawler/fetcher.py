"""HTTP for a round: GET through Scrapy's engine, retries with backoff, faults in plain words.

Every request of a round goes through `Fetcher.get`, so the downloader
middlewares (robots.txt, AutoThrottle, compression, the size cap) apply, and
so does the round's time budget: no request outlives the round's deadline.

A failure is raised as what happened, from wpwatch's one error tree:
`Unreachable` for the network (refused, reset, DNS, timeouts; recognised by
the exception's class), `HTTPFault` for an answer that is an error (5xx and
429 after retries, a Cloudflare challenge, a redirect elsewhere, the size
cap, robots.txt), `RoundTimedOut` when the round's budget ran out. The odd
answers behind these rules: docs/wordpress-rest.md §12.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost, DNSLookupError
from twisted.internet.error import ConnectionRefusedError as TxConnectionRefused
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.web.client import ResponseFailed, ResponseNeverReceived

from archive import RawResponse
from core.exceptions import HTTPFault, Unreachable
from core.values import utcnow
from crawler.middlewares import TALLY, Tally

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 522, 524})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
TRIES = "wpwatch_tries"  # request meta: which try of the URL this request is

#: What a download raises when the network fails (Scrapy wraps Twisted's, not always).
NETWORK_ERRORS = (
    DownloadCancelledError, DownloadConnectionRefusedError, CannotResolveHostError,
    DownloadTimeoutError, DownloadFailedError, ResponseDataLossError,
    ConnectError, ConnectionLost, ConnectionDone, TxTimeoutError, ResponseFailed,
    ResponseNeverReceived, TimeoutError, OSError,
)


class TimedOut(Unreachable):
    """A request got no complete answer within its download timeout."""


class RoundTimedOut(TimedOut):
    """The round's time budget ran out; what it stored so far stands, it judges nothing."""


@dataclass(frozen=True)
class FetchPolicy:
    """The crawler settings that shape fetching (read once per round)."""

    retry_times: int = 2
    retry_base: float = 1.0
    retry_after_cap: float = 120.0
    allow_other_host: bool = False
    max_size: int = 0
    download_timeout: float = 30.0

    @classmethod
    def from_settings(cls, s: Any) -> FetchPolicy:
        return cls(
            retry_times=s.getint("WPWATCH_RETRY_TIMES", 2),
            retry_base=s.getfloat("WPWATCH_RETRY_BASE_DELAY", 1.0),
            retry_after_cap=s.getfloat("WPWATCH_RETRY_AFTER_CAP", 120.0),
            allow_other_host=s.getbool("WPWATCH_ALLOW_OTHER_HOST", False),
            max_size=s.getint("DOWNLOAD_MAXSIZE", 0),
            download_timeout=s.getfloat("DOWNLOAD_TIMEOUT", 30.0),
        )


class Fetcher:
    """GETs for one round of one site, bounded by the round's deadline (loop time)."""

    def __init__(self, crawler: Any, site_url: str, policy: FetchPolicy,
                 budget: float | None = None, authorization: bytes | None = None,
                 tally: Tally | None = None) -> None:
        self.crawler = crawler
        self.tally = tally  # the round's own count, on a crawler that many rounds share
        self.site_url = site_url
        self.policy = policy
        self.budget = budget
        self.deadline: float | None = None
        # an own site's Basic auth (crawler.auth): sent only to the site's own host
        self._authorization = authorization

    @property
    def authenticated(self) -> bool:
        return self._authorization is not None

    def _headers(self, url: str, follow_redirects: bool) -> dict[str, bytes]:
        """The login for API requests to the site's own host; nothing for anything else."""
        if self._authorization is None or follow_redirects:
            return {}
        parts, site = urlsplit(url), urlsplit(self.site_url)
        if (parts.scheme, parts.hostname, parts.port) != (site.scheme, site.hostname, site.port):
            return {}
        return {"Authorization": self._authorization}

    def start_clock(self) -> None:
        if self.budget:
            self.deadline = asyncio.get_running_loop().time() + self.budget

    def where(self, url: str) -> str:
        """A URL as the user reads it: path and query on the site's own host, else whole."""
        parts = urlsplit(url)
        if parts.netloc != urlsplit(self.site_url).netloc:
            return url
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - asyncio.get_running_loop().time()

    def timed_out(self, url: str) -> RoundTimedOut:
        return RoundTimedOut(
            f"timed out: the round's {self.budget:.0f} s budget ran out while fetching "
            f"{self.where(url)} (raise round_timeout, or --round-timeout for crawl)"
        )

    async def get(self, url: str, *, follow_redirects: bool = False,
                  retry_timeouts: bool = True) -> Response:
        """GET url; retry 429/5xx and network errors with backoff; never past the deadline.

        API calls follow redirects only within the same host (an API that
        redirects elsewhere is not silently trusted); the home page follows
        any. A Cloudflare challenge is named as such, never taken for a rate
        limit. A 429/5xx that is still there after the retries is returned:
        the caller says what it means there (`fault`).
        """
        attempt = hops = 0
        while True:
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise self.timed_out(url)
            meta: dict[str, Any] = {"handle_httpstatus_all": True,
                                    "dont_redirect": not follow_redirects, TRIES: attempt + 1}
            if self.tally is not None:
                meta[TALLY] = self.tally
            if remaining is not None:
                meta["download_timeout"] = max(0.05, min(self.policy.download_timeout, remaining))
            request = scrapy.Request(url, dont_filter=True, meta=meta,
                                     headers=self._headers(url, follow_redirects))
            try:
                resp = await self._download(request, remaining)
            except IgnoreRequest as exc:
                raise HTTPFault(f"{self._ignored(exc)}: {self.where(url)}") from None
            except NETWORK_ERRORS as exc:
                words = network_words(exc, self.policy.max_size)
                left = self._remaining()
                if _is_timeout(exc) and left is not None and left <= 0.05:
                    raise self.timed_out(url) from None
                final = (isinstance(exc, DownloadCancelledError)  # the size cap
                         or (_is_timeout(exc) and not retry_timeouts))
                delay = self._backoff(attempt, None)
                if final or attempt >= self.policy.retry_times or not self._fits(delay):
                    error = TimedOut if _is_timeout(exc) else Unreachable
                    raise error(f"{words} while fetching {self.where(url)}"
                                f"{_tries(attempt + 1)}") from None
                await asyncio.sleep(delay)
                attempt += 1
                continue
            if is_challenge(resp):
                raise HTTPFault(
                    f"Cloudflare challenge (HTTP {resp.status}, cf-mitigated: challenge) "
                    f"from {self.where(url)}, not the site's answer"
                )
            if resp.status in REDIRECTS and not follow_redirects:
                target = urljoin(url, (resp.headers.get(b"Location") or b"").decode("latin-1"))
                if (urlsplit(target).hostname != urlsplit(url).hostname
                        and not self.policy.allow_other_host):
                    raise HTTPFault(f"{self.where(url)} redirects to another host ({target}); "
                                    "not followed (set allow_other_host if that is expected)")
                hops += 1
                if hops > 5:
                    raise HTTPFault(f"too many redirects (a redirect loop?) from {self.where(url)}")
                url = target
                continue
            if resp.status in RETRY_STATUSES and attempt < self.policy.retry_times:
                delay = self._backoff(attempt, resp)
                if self._fits(delay):
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
            return resp

    async def _download(self, request: scrapy.Request, remaining: float | None) -> Response:
        """The engine's download; past the deadline, given up (the request is cancelled).

        The request's own download_timeout normally ends it first; this also
        bounds what happens before it is sent (robots.txt of a host that hangs).
        """
        download = self.crawler.engine.download_async(request)
        if remaining is None:
            return await download
        try:
            async with asyncio.timeout(remaining + 0.5):  # no task per request (wait_for's)
                return await download
        except TimeoutError:
            raise self.timed_out(request.url) from None

    def fault(self, resp: Response) -> HTTPFault | None:
        """The error a 429/5xx answer is, with its tries; None for any other status."""
        if resp.status not in RETRY_STATUSES and resp.status < 500:
            return None
        tries = resp.meta.get(TRIES, 1)
        return HTTPFault(f"{status_words(resp.status)} from {self.where(resp.url)}{_tries(tries)}")

    def _fits(self, delay: float) -> bool:
        """Whether waiting `delay` seconds still leaves the round time to ask again."""
        left = self._remaining()
        return left is None or delay < left - 0.5

    def _ignored(self, exc: IgnoreRequest) -> str:
        """Why Scrapy dropped a request, in plain words (its messages are its API)."""
        text = str(exc)
        if isinstance(exc.__cause__, ValueError):  # HttpCompressionMiddleware's size check
            return (f"response larger than the size cap once decompressed "
                    f"(DOWNLOAD_MAXSIZE {_size(self.policy.max_size)}; a compression bomb?)")
        if "robots.txt" in text:
            return "forbidden by robots.txt"
        if "redirections" in text:
            return "too many redirects (a redirect loop?)"
        return f"request dropped ({text[:200]})"

    def _backoff(self, attempt: int, resp: Response | None) -> float:
        if resp is not None:
            value = resp.headers.get(b"Retry-After")
            if value:
                try:
                    return min(float(value.decode("latin-1").strip()), self.policy.retry_after_cap)
                except ValueError:
                    pass
        return self.policy.retry_base * (2**attempt) * (0.5 + random.random() / 2)


def is_challenge(resp: Response) -> bool:
    return (resp.headers.get(b"cf-mitigated") or b"").lower() == b"challenge"


def status_words(status: int) -> str:
    if status == 429:
        return "HTTP 429 (rate limited)"
    if status >= 500:
        return f"HTTP {status} (server error)"
    return f"HTTP {status}"


def raw(resp: Response) -> RawResponse:
    """A Scrapy response as the evidence the archive keeps."""
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, values in resp.headers.items()
        for v in values
    ]
    try:
        request = resp.request
    except AttributeError:  # a response built without its request (tests)
        request = None
    authenticated = request is not None and b"Authorization" in request.headers
    return RawResponse(
        url=resp.url, status=resp.status, headers=headers, body=resp.body, fetched_at=utcnow(),
        authenticated=authenticated,
    )


def link_headers(resp: Response) -> list[str]:
    return [v.decode("latin-1") for v in resp.headers.getlist(b"Link")]


def _tries(n: int) -> str:
    return f" ({n} tries)" if n > 1 else ""


def _size(n: int) -> str:
    return f"{n:,} bytes" if n else "off"


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (DownloadTimeoutError, TxTimeoutError, asyncio.TimeoutError))


def network_words(exc: BaseException, max_size: int = 0) -> str:
    """A network failure in plain words, by the exception's class.

    Scrapy 2.19 wraps Twisted's errors in its own download exceptions and keeps
    the Twisted one as the cause; both are looked at.
    """
    cause = exc.__cause__
    if isinstance(exc, DownloadCancelledError):  # the only canceller here: the size cap
        return f"response larger than the size cap (DOWNLOAD_MAXSIZE {_size(max_size)})"
    if isinstance(exc, (DownloadConnectionRefusedError, TxConnectionRefused)):
        return "connection refused"
    if isinstance(exc, (CannotResolveHostError, DNSLookupError)):
        return "DNS lookup failed"
    if _is_timeout(exc):
        return "timed out"
    if isinstance(exc, ResponseDataLossError):
        return "connection closed mid-response (data lost)"
    if isinstance(exc, DownloadFailedError) and isinstance(cause, (ResponseFailed,
                                                                   ResponseNeverReceived)):
        exc = cause
    if isinstance(exc, ResponseNeverReceived):
        return "connection closed before a complete response"
    if isinstance(exc, ResponseFailed):
        lost = all(r.check(ConnectionLost, ConnectionDone) for r in exc.reasons)
        return ("connection reset mid-response" if lost
                else "the answer was not an HTTP response (garbage bytes)")
    if isinstance(exc, DownloadFailedError):
        return "connection failed"
    if isinstance(exc, (ConnectionLost, ConnectionDone)):
        return "connection closed before a complete response"
    if isinstance(exc, ConnectError):
        return f"could not connect ({exc})"
    text = str(exc).strip()[:200]
    return f"download failed ({type(exc).__name__}{': ' + text if text else ''})"
