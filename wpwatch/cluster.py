"""Many machines, one archive (PostgreSQL): the round job and the dispatcher.

One job is one round of one site (procrastinate task ``wpwatch.round``), deferred
with ``lock`` and ``queueing_lock`` both the site's URL: two rounds of one site
never run at once, and at most one waits. The schedule stays in our own
``schedule`` table (procrastinate's job fetch has no index on scheduled time, so
thousands of future jobs would slow every fetch): one node at a time, the one
holding a PostgreSQL advisory lock on a connection of its own, is the
dispatcher and queues only the rounds that are due. When that node dies its
connection closes, the lock goes with it, and another node's next
:meth:`Dispatcher.try_lead` takes over. Jobs run at least once; the archive's
writes are idempotent (archive/writes.py), so a round run again stores nothing
twice.

Not here yet: the worker side (Scrapy's asyncio reactor and procrastinate's
worker on one loop) and ``wpwatch run``'s use of it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

from archive import Archive
from archive.opening import db_url
from core.values import iso_utc, parse_iso

logger = logging.getLogger(__name__)

ROUND_TASK = "wpwatch.round"
#: The advisory lock key whose holder is the dispatcher ("wpwd" in ASCII).
DISPATCHER_LOCK = 0x77707764

RoundRunner = Callable[[str, bool], Awaitable[None]]


def conninfo(db: str) -> str:
    """The libpq connection string of an archive URL (postgresql://, postgres://, +psycopg)."""
    url = make_url(db_url(db))
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"several nodes need a PostgreSQL archive, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(db: str, run_round: RoundRunner) -> procrastinate.App:
    """The job queue on the archive's database; its one task runs ``run_round(url, full)``."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(db)))

    @app.task(name=ROUND_TASK)
    async def site_round(site_url: str, full: bool) -> None:
        await run_round(site_url, full)

    return app


async def ensure_queue_schema(app: procrastinate.App) -> None:
    """Create procrastinate's tables in the archive's database, once."""
    found = await app.connector.execute_query_one_async(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
    if not found["present"]:
        await app.schema_manager.apply_schema_async()


async def queue_round(app: procrastinate.App, site_url: str, full: bool) -> bool:
    """Queue a round of the site; False when one is already waiting (the queueing lock)."""
    task = app.tasks[ROUND_TASK]
    try:
        await task.configure(lock=site_url, queueing_lock=site_url).defer_async(
            site_url=site_url, full=full)
    except AlreadyEnqueued:
        return False
    return True


@dataclass(frozen=True)
class SiteClock:
    """What the dispatcher needs of a configured site: how often its rounds are due."""

    url: str
    interval: timedelta
    full_interval: timedelta


class Dispatcher:
    """Queues due rounds while it holds the dispatcher's advisory lock (one node at a time)."""

    def __init__(self, db: str) -> None:
        self._conninfo = conninfo(db)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.leading = False

    async def try_lead(self) -> bool:
        """Hold or take the lock; False while another node holds it (or the database is away)."""
        try:
            if self._conn is None or self._conn.closed:
                self.leading = False
                self._conn = await psycopg.AsyncConnection.connect(self._conninfo,
                                                                   autocommit=True)
            if not self.leading:
                cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                               (DISPATCHER_LOCK,))
                row = await cur.fetchone()
                self.leading = bool(row and row[0])
                if self.leading:
                    logger.info("this node is now the dispatcher")
            else:
                await self._conn.execute("SELECT 1")  # still connected, so still holding it
        except psycopg.OperationalError as exc:
            logger.warning("dispatcher: the database is unreachable (%s); retrying", exc)
            await self.close()
        return self.leading

    async def queue_due(self, app: procrastinate.App, archive: Archive,
                        sites: Iterable[SiteClock], now: datetime) -> list[str]:
        """Queue a round of every site that is due and move its next due time on.

        A site new to the schedule is due at once. Returns the URLs queued.
        """
        schedule = archive.schedules()
        queued = []
        for site in sites:
            row = schedule.get(site.url) or {}
            due, full_due = row.get("next_due"), row.get("next_full_due")
            is_due = due is None or parse_iso(due) <= now
            full = full_due is None or parse_iso(full_due) <= now
            if not (is_due or full):
                continue
            if await queue_round(app, site.url, full):
                queued.append(site.url)
            archive.set_schedule(
                site.url, iso_utc(now + site.interval),
                iso_utc(now + site.full_interval) if full else full_due)
        return queued

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
        self._conn = None
        self.leading = False
