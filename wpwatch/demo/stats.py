"""Counting what a site served: requests, bytes and statuses, for tests and benchmarks."""

from __future__ import annotations

from typing import Any

from wpwatch.demo.site_model import SiteModel


class RequestStats(SiteModel):
    """Per-site request counters, updated by the HTTP handler for every answer."""

    def stats(self) -> dict[str, Any]:
        """Requests and bytes served for this site since start (or ``reset_stats``).

        ``bytes`` counts status line, headers and body; ``body_bytes`` the bodies.
        """
        with self._stats_lock:
            return {
                "requests": self._requests,
                "bytes": self._bytes,
                "body_bytes": self._body_bytes,
                "by_status": dict(self._by_status),
            }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._requests = self._bytes = self._body_bytes = 0
            self._by_status.clear()
            self.request_log.clear()

    def _count(self, method: str, target: str, status: int, nbytes: int, body: int) -> None:
        with self._stats_lock:
            self._requests += 1
            self._bytes += nbytes
            self._body_bytes += body
            self._by_status[status] = self._by_status.get(status, 0) + 1
            self.request_log.append((method, target, status, body))
