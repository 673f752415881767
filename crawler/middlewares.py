"""wpwatch's own downloader middlewares (`FreshRobotsTxt` enabled in `crawler.settings`,
`RoundTally` by a node's long-lived crawler in `crawler.host`).

`FreshRobotsTxt`: Scrapy's robots.txt middleware keeps a host's rules for as
long as the crawler lives. A Crawler per round re-reads them every round; a
node's long-lived crawler (`crawler.host`) would keep them forever. Here they
are read again once older than WPWATCH_ROBOTSTXT_MAX_AGE seconds (an hour:
RFC 9309 asks crawlers not to use a cached robots.txt for more than a day),
and a robots.txt that could not be read (nothing is forbidden then) is asked
for again after `RETRY_UNREAD` seconds.

`RoundTally`: counts the requests and response bytes of one round on a
crawler that many rounds share, for requests that carry a `Tally` in their
meta (as Scrapy's own downloader stats count them for a whole crawler).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

#: Request meta key: the `Tally` of the round a request belongs to.
TALLY = "wpwatch_tally"
#: Seconds before a robots.txt that could not be read is asked for again.
RETRY_UNREAD = 60.0


@dataclass
class Tally:
    """One round's requests (robots.txt reads it caused included) and response bytes."""

    requests: int = 0
    bytes: int = 0


class FreshRobotsTxt(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware whose rules per host expire."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.max_age = crawler.settings.getfloat("WPWATCH_ROBOTSTXT_MAX_AGE", 3600.0)
        self._read_at: dict[str, float] = {}  # netloc → when its robots.txt was asked for

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if not request.meta.get("dont_obey_robotstxt") and request.url.startswith("http"):
            netloc = urlparse_cached(request).netloc  # the parse the parent class reuses
            now = time.monotonic()
            read_at = self._read_at.get(netloc)
            parser = self._parsers.get(netloc)
            age = self.max_age if parser is not None else RETRY_UNREAD
            stale = read_at is not None and now - read_at >= age
            if stale and netloc in self._parsers and not isinstance(parser, Deferred):
                del self._parsers[netloc]  # read again (a read under way is waited for)
            if netloc not in self._parsers:
                self._read_at[netloc] = now
                tally = request.meta.get(TALLY)
                if tally is not None:
                    tally.requests += 1
        await super().process_request(request)


class RoundTally:
    """Adds each request, and each response's size, to its round's `Tally`."""

    def process_request(self, request: Request, spider: Any = None) -> None:
        tally = request.meta.get(TALLY)
        if tally is not None:
            tally.requests += 1

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Response:
        tally = request.meta.get(TALLY)
        if tally is not None:
            tally.bytes += len(response.body)
        return response
