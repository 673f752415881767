"""Waiting on an event the tests cannot subscribe to (a row in the archive, a log line of
another process): ask again every 0.1 s until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(what: str, pred: Callable[[], Any], timeout: float = 60.0) -> Any:
    """``pred()``'s first true value; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
