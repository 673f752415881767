"""Site memories a node keeps between rounds, so a quiet round does not read them again.

A round starts from its site's memory (`archive.SiteMemory`: every post's state and
stamps, the types' watermarks, degraded mode's URLs). Reading it costs three queries
and grows with the site (bench/README.md: about 23 ms of CPU for a site of 2,000
posts), every round, to find that nothing moved. A node runs rounds all day, so it
keeps the memories it read, up to a total number of posts (WPWATCH_KEPT_MEMORY_POSTS),
least recently used out first. The archive says whether a kept memory is still
current: every write to it moves the site's memory version in the same transaction,
whichever node or command wrote it.
"""

from __future__ import annotations

from collections import OrderedDict

from archive import SiteMemory


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
