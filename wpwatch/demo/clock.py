"""The site clock: the system clock, or a settable one for deterministic tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from wpwatch.demo.php import (
    parse_rest_date,
    utc_naive,
)


class ManualClock:
    """A settable clock for deterministic tests: ``site = DemoSite(clock=ManualClock(...))``.

    ``tick`` seconds are added after each reading, so consecutive changes land
    in different seconds without the test moving time by hand.
    """

    def __init__(self, start: datetime | str = "2024-01-01T00:00:00Z", *, tick: float = 0.0):
        self._lock = threading.Lock()
        self._now = self._coerce(start)
        self.tick = timedelta(seconds=tick)

    @staticmethod
    def _coerce(value: datetime | str) -> datetime:
        if isinstance(value, str):
            parsed = parse_rest_date(value)
            if parsed is None:
                raise ValueError(f"not an RFC 3339 date: {value!r}")
            naive, offset = parsed
            return naive - (offset or timedelta(0))
        return utc_naive(value)

    def __call__(self) -> datetime:
        with self._lock:
            now = self._now
            self._now = now + self.tick
            return now.replace(tzinfo=UTC)

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        """Move forward (``advance(5)``, ``advance(minutes=2)``); returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now.replace(tzinfo=UTC)

    def set(self, when: datetime | str) -> None:
        with self._lock:
            self._now = self._coerce(when)


def system_clock() -> datetime:
    return datetime.now(UTC)
