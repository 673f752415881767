"""The outbox: alerts written in the same transaction as the change that causes them.

The archive calls `Outbox.on_change(conn, event)` inside the transaction that
stores a change, so a change and its alerts commit together or not at all: a
process killed at any point loses no alert. Delivery (alerts/deliver.py)
later marks each one sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from alerts.rules import Route, keyword_hits
from archive import schema as s
from core.values import iso_utc


class Outbox:
    """Routes each new change to the channels that want it."""

    def __init__(self, routes: Iterable[Route], site_names: dict[str, str] | None = None) -> None:
        self.routes = list(routes)
        self.site_names = site_names or {}

    def on_change(self, conn: Connection, event: Any) -> None:
        if getattr(event, "noise", False):  # set aside by the site's ignore rules: not news
            return
        now = datetime.now(UTC)
        for route in self.routes:
            if not route.wants(event.site_url, self.site_names.get(event.site_url), event.kind):
                continue
            hits: tuple[str, ...] = ()
            if route.keywords:
                hits = keyword_hits(route.keywords, event.old, event.new)
                if not hits:
                    continue
            self._queue(conn, route, now, change_id=event.change_id, site_id=event.site_id,
                        round_id=event.round_id, keywords=json.dumps(list(hits)))

    def on_health(self, conn: Connection, event: Any) -> None:
        """A change of a site's watch health (alerts.health.HealthEvent): same routing."""
        now = datetime.now(UTC)
        for route in self.routes:
            if route.wants(event.site_url, self.site_names.get(event.site_url), event.kind):
                self._queue(conn, route, now, event_id=event.event_id, site_id=event.site_id,
                            round_id=event.round_id, keywords="[]")

    @staticmethod
    def _queue(conn: Connection, route: Route, now: datetime, **values: Any) -> None:
        conn.execute(
            insert(s.alerts).values(
                **values,
                channel=route.channel,
                digest=route.digest,
                due_at=iso_utc(route.due(now)),
                status="pending",
                attempts=0,
                next_attempt_at=iso_utc(now),
                created_at=iso_utc(now),
            )
        )
