"""Progress of long walks (a first crawl, a --full round), for a person watching.

One line that updates in place on a terminal; on anything else (a log file,
cron's mail) at most one line every 10 seconds. Only walks report progress:
a quiet incremental round is over before anyone would look.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the runner tells a progress reporter."""

    def posts_stored(self, site_url: str, type: str, count: int, total: int) -> None: ...

    def round_done(self, site_url: str) -> None: ...


class ProgressLine:
    """"120/2,000 posts archived, 40/s, about 47 s left", across every site being walked."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every if not self.tty else 0.2
        self.clock = clock
        self.started: float | None = None
        self.last_shown: float | None = None
        self.totals: dict[tuple[str, str], int] = {}
        self.done: dict[tuple[str, str], int] = {}
        self.on_screen = False

    def posts_stored(self, site_url: str, type: str, count: int, total: int) -> None:
        now = self.clock()
        if self.started is None:
            self.started = self.last_shown = now
        key = (site_url, type)
        self.done[key] = self.done.get(key, 0) + count
        self.totals[key] = max(total, self.done[key])
        if now - (self.last_shown or now) >= self.every:
            self.last_shown = now
            self._write(self.line(now))

    def round_done(self, site_url: str) -> None:
        for key in [k for k in self.done if k[0] == site_url]:
            self.done.pop(key)
            self.totals.pop(key, None)
        if self.on_screen:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.on_screen = False
        if not self.done:
            self.started = self.last_shown = None

    def line(self, now: float) -> str:
        done, total = sum(self.done.values()), sum(self.totals.values())
        elapsed = now - (self.started or now)
        rate = done / elapsed if elapsed > 0 else 0.0
        sites = {site for site, _ in self.done}
        where = next(iter(sites)) if len(sites) == 1 else f"{len(sites)} sites"
        text = f"{where}: {done:,}/{total:,} posts archived"
        if rate > 0:
            text += f", {rate:,.0f}/s, about {_duration((total - done) / rate)} left"
        return text

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
            self.on_screen = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
