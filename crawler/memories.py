"""What a node keeps between rounds, so a quiet round does not read it again: site
memories (`KeptMemories`) and sites' types listings (`KeptTypeLists`).

A round starts from its site's memory (`archive.SiteMemory`: every post's state and
stamps, the types' watermarks, degraded mode's URLs). Reading it costs three queries
and grows with the site (bench/README.md: about 23 ms of CPU for a site of 2,000
posts), every round, to find that nothing moved. A node runs rounds all day, so it
keeps the memories it read, up to a total number of posts (WPWATCH_KEPT_MEMORY_POSTS),
least recently used out first. The archive says whether a kept memory is still
current: every write to it moves the site's memory version in the same transaction,
whichever node or command wrote it.

A round also starts by reading the site's types listing (/wp/v2/types): one request
of a quiet round's seven, answering the same every time. A node uses the listing an
earlier round read for up to WPWATCH_TYPES_MAX_AGE seconds (so a new content type is
seen that much later), except in a --full round; a listing that answers 401, 403, 404
or 410 meanwhile makes the round read the types listing again before it judges
(`crawler.listing.TypesListingDoubted`): a type that left, the REST API closed or
moved are then told apart as they are when the listing is read every round.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from archive import SiteMemory
from crawler.discovery import Discovered
from crawler.wpapi import ContentType


class KeptMemories:
    """Site URL → the memory its last round read, bounded by the posts they hold."""

    def __init__(self, max_posts: int) -> None:
        self.max_posts = max_posts
        self.posts = 0
        self._kept: OrderedDict[str, SiteMemory] = OrderedDict()

    def get(self, url: str) -> SiteMemory | None:
        memory = self._kept.get(url)
        if memory is not None:
            self._kept.move_to_end(url)
        return memory

    def keep(self, url: str, memory: SiteMemory) -> None:
        """Keep the memory a round read (again, if it was kept already)."""
        old = self._kept.pop(url, None)
        if old is not None:
            self.posts -= old.posts
        if memory.posts > self.max_posts:
            return
        self._kept[url] = memory
        self.posts += memory.posts
        while self.posts > self.max_posts:
            _, out = self._kept.popitem(last=False)
            self.posts -= out.posts


class KeptTypeLists:
    """Site URL → the types listing its last round read, for ``max_age`` seconds; at most
    ``max_sites`` of them, least recently used out first. Equal listings (most sites
    show posts and pages only) share one list."""

    def __init__(self, max_age: float, max_sites: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.max_sites = max_sites
        self.clock = clock
        self._kept: OrderedDict[str, tuple[float, Discovered]] = OrderedDict()
        self._shared: dict[tuple[ContentType, ...], list[ContentType]] = {}

    def get(self, url: str) -> Discovered | None:
        """The site's listing while it is younger than ``max_age``."""
        kept = self._kept.get(url)
        if kept is None:
            return None
        read_at, listing = kept
        if self.clock() - read_at >= self.max_age:
            del self._kept[url]
            return None
        self._kept.move_to_end(url)
        return listing

    def keep(self, url: str, listing: Discovered) -> None:
        """Keep the listing a round just read."""
        if self.max_sites <= 0 or self.max_age <= 0:
            return
        if len(self._shared) > self.max_sites:  # as many kinds as sites: sharing starts over
            self._shared.clear()
        types = self._shared.setdefault(tuple(listing.types), listing.types)
        self._kept.pop(url, None)
        self._kept[url] = (self.clock(), Discovered(listing.api_root, types, False))
        while len(self._kept) > self.max_sites:
            self._kept.popitem(last=False)

    def forget(self, url: str) -> None:
        self._kept.pop(url, None)
