"""Many machines, one archive (PostgreSQL): the round job, the dispatcher, stalled jobs.

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

A node killed mid-round leaves its job in ``doing`` and the site's lock held.
Every node looks for such jobs (:func:`recover_stalled`: jobs of workers whose
heartbeat stopped) and gives them back to the queue; when the site has a newer
round waiting already, the give-back would break the queueing lock (procrastinate
refuses it), so the stalled job is marked failed instead and the waiting round
covers the site. Either way the lock is freed.

The node process that runs all this is wpwatch/node.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import jobs
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from sqlalchemy.engine import make_url

from archive import Archive
from archive import cluster as shared
from archive.opening import db_url
from core.values import iso_utc, parse_iso

logger = logging.getLogger(__name__)

ROUND_TASK = "wpwatch.round"
#: The advisory lock key whose holder is the dispatcher ("wpwd" in ASCII).
DISPATCHER_LOCK = 0x77707764
#: Held while a node sets up the archive and the queue's tables ("wpws"): nodes that
#: start together on a new database create each table once.
SETUP_LOCK = 0x77707773
#: Due rounds queued per dispatch pass at most (the rest wait for the next pass).
DISPATCH_BATCH = 2000
#: The error of a round whose node died mid-round.
NODE_DIED = "its node stopped mid-round; run again by another node"
#: The error of a round that could not be recorded as ended (the database was away).
NOT_RECORDED = "its end could not be recorded (the database was unreachable)"
#: Seconds a pooled queue connection waits unused before it is checked again (`queue_pool`).
CHECK_AFTER_IDLE = 1.0
#: Seconds between a node's heartbeats (its row, and procrastinate's worker heartbeat).
HEARTBEAT = 2.0
#: A worker without a heartbeat for this long is dead: its rounds are given back.
STALLED_AFTER = 10.0
#: A round due for longer than this and not started is overdue (`status --cluster`).
OVERDUE_AFTER = timedelta(minutes=1)
#: How fast the first rounds of newly configured sites are made due (see sync_sites).
FIRST_ROUNDS_PER_SECOND = 10.0

#: ``run_round(site_url, full, due)``: the worker's side of a job.
RoundRunner = Callable[[str, bool, str | None], Awaitable[None]]


def conninfo(db: str) -> str:
    """The libpq connection string of an archive URL (postgresql://, postgres://, +psycopg)."""
    url = make_url(db_url(db))
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"several nodes need a PostgreSQL archive, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def queue_pool(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
    """procrastinate's connection pool, whose check before use (an empty query: one round
    trip, two a round) runs only on a connection idle for `CHECK_AFTER_IDLE` seconds, one
    that a restarted or lost server may have cut while it waited. A connection that
    breaks in use is discarded by the pool when it comes back."""
    returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def note_return(conn: Any) -> None:
        returned[conn] = time.monotonic()

    async def check_if_idle(conn: Any) -> None:
        if time.monotonic() - returned.get(conn, -math.inf) >= CHECK_AFTER_IDLE:
            await psycopg_pool.AsyncConnectionPool.check_connection(conn)

    return psycopg_pool.AsyncConnectionPool(**{**kwargs, "check": check_if_idle,
                                               "reset": note_return})


def make_app(db: str, run_round: RoundRunner) -> procrastinate.App:
    """The job queue on the archive's database; its one task runs ``run_round``."""
    # The queue's own pool: fetching, finishing and heartbeats (rounds write through the
    # archive's engine), so a few connections a node whatever its concurrency.
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(db), min_size=1, max_size=4,
                                               pool_factory=queue_pool)
    app = procrastinate.App(connector=connector)

    @app.task(name=ROUND_TASK)
    async def site_round(site_url: str, full: bool, due: str | None = None) -> None:
        await run_round(site_url, full, due)

    return app


async def ensure_queue_schema(app: procrastinate.App) -> None:
    """Create procrastinate's tables in the archive's database, once."""
    found = await app.connector.execute_query_one_async(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present")
    if not found["present"]:
        await app.schema_manager.apply_schema_async()


async def queue_round(app: procrastinate.App, site_url: str, full: bool,
                      due: str | None = None) -> bool:
    """Queue a round of the site; False when one is already waiting (the queueing lock)."""
    task = app.tasks[ROUND_TASK]
    try:
        await task.configure(lock=site_url, queueing_lock=site_url).defer_async(
            site_url=site_url, full=full, due=due)
    except AlreadyEnqueued:
        return False
    return True


async def recover_stalled(app: procrastinate.App, archive: Archive,
                          seconds_since_heartbeat: float) -> int:
    """Give back the rounds of nodes that stopped beating; returns how many were found.

    The dead node's round is recorded interrupted (it cannot record that itself);
    the lock on the site is freed by the retry, or by marking the job failed when the
    site already has a round waiting.
    """
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(task_name=ROUND_TASK,
                                                  seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        site_url = str(job.task_kwargs.get("site_url"))
        shared.interrupt_running_rounds(archive.engine, site_url, NODE_DIED)
        try:
            await manager.retry_job(job)
            logger.warning("%s: the round of a node that stopped is queued again", site_url)
        except ConnectorException as exc:  # the queueing lock: a round of it waits already
            logger.info("%s: stalled round not queued again (%s): a newer one waits",
                        site_url, type(exc).__name__)
            with contextlib.suppress(ConnectorException):
                await manager.finish_job(job, status=jobs.Status.FAILED, delete_job=False)
    return len(stalled)


async def waiting_rounds(app: procrastinate.App, urls: list[str]) -> set[str]:
    """Those of ``urls`` whose site has a round queued and not started (its queueing lock)."""
    if not urls:
        return set()
    rows = await app.connector.execute_query_all_async(
        "SELECT queueing_lock FROM procrastinate_jobs "
        "WHERE status = 'todo' AND queueing_lock = ANY(%(urls)s)", urls=urls)
    return {r["queueing_lock"] for r in rows}


async def _defer_all(app: procrastinate.App, jobs: list[jobs.Job]) -> list[str]:
    """Insert the jobs in one statement; when one of them meets a round queued meanwhile
    (a stalled job given back), one by one instead, skipping that one. The site URLs queued."""
    if not jobs:
        return []
    try:
        await app.job_manager.batch_defer_jobs_async(jobs)
        return [str(j.task_kwargs["site_url"]) for j in jobs]
    except AlreadyEnqueued:
        queued = []
        for job in jobs:
            with contextlib.suppress(AlreadyEnqueued):
                await app.job_manager.defer_job_async(job)
                queued.append(str(job.task_kwargs["site_url"]))
        return queued


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
        except psycopg.OperationalError:
            await self.close()
            raise
        return self.leading

    @staticmethod
    def sync_sites(archive: Archive, sites: Iterable[SiteClock], now: datetime) -> int:
        """Give every configured site a schedule and drop the schedules of removed ones.

        New sites' first rounds are spread over a few seconds, or over as long as it takes
        to start :data:`FIRST_ROUNDS_PER_SECOND` of them a second (at most an interval):
        their later rounds keep that spread, so thousands of sites added at once do not
        come due at the same second every interval. A first full round is due after a
        full interval (the first round reads every post anyway). Returns how many sites
        were new.
        """
        sites = list(sites)
        known = shared.scheduled_sites(archive.engine)
        new = [site for site in sites if site.url not in known]
        window = max(5.0, len(new) / FIRST_ROUNDS_PER_SECOND)
        first_due = {
            site.url: (iso_utc(now + timedelta(seconds=random.uniform(
                0, min(site.interval.total_seconds(), window)))),
                iso_utc(now + site.full_interval))
            for site in new}
        shared.sync_schedules(archive.engine, first_due, {site.url for site in sites})
        return len(new)

    async def queue_due(self, app: procrastinate.App, archive: Archive,
                        clocks: Mapping[str, SiteClock], now: datetime) -> list[str]:
        """Queue a round of every site that is due and move its next due time on.

        The next due time is the last one plus the interval (the cadence holds however
        late a pass runs), or an interval from now after a long pause. Returns the URLs
        queued (:meth:`sync_sites` gives new sites their first due time). One pass is a
        few statements whatever the number of due sites: the due rows, the sites whose
        round still waits, one insert of the new jobs, one update of the schedule.
        """
        rows = await asyncio.to_thread(shared.due_rows, archive.engine, iso_utc(now),
                                       DISPATCH_BATCH)
        rows = [r for r in rows if r["site_url"] in clocks]  # removed ones: sync_sites
        waiting = await waiting_rounds(app, [r["site_url"] for r in rows])
        task = app.tasks[ROUND_TASK]
        jobs, updates = [], []
        for row in rows:
            site = clocks[row["site_url"]]
            due, full_due = row["next_due"], row["next_full_due"]
            full = full_due is None or parse_iso(full_due) <= now
            if site.url not in waiting:
                jobs.append(task.configure(lock=site.url, queueing_lock=site.url)
                            .make_new_job(site_url=site.url, full=full, due=due or iso_utc(now)))
            updates.append((site.url, iso_utc(_next(due, site.interval, now)),
                            iso_utc(_next(full_due, site.full_interval, now)) if full
                            else full_due))
        queued = await _defer_all(app, jobs)
        await asyncio.to_thread(shared.advance_schedules, archive.engine, updates)
        return queued

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
        self._conn = None
        self.leading = False


def site_jobs(archive: Archive) -> dict[str, set[str]]:
    """The sites whose round is running (``doing``) or waiting (``todo``) in the queue."""
    jobs: dict[str, set[str]] = {"doing": set(), "todo": set()}
    with archive.engine.connect() as conn:
        present = conn.exec_driver_sql(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar()
        if present:
            for status, lock in conn.exec_driver_sql(
                    "SELECT status::text, lock FROM procrastinate_jobs "
                    "WHERE status IN ('doing', 'todo') AND task_name = %(task)s",
                    {"task": ROUND_TASK}):
                jobs[status].add(lock)
    return jobs


def cluster_view(archive: Archive, now: datetime) -> dict[str, Any]:
    """The nodes and the queue, for `wpwatch status --cluster` (plain data, JSON-ready).

    ``nodes``: each node's name, start, last heartbeat, whether it is alive (a heartbeat
    within :data:`STALLED_AFTER`) and the dispatcher, rounds running and run, stalled
    jobs it gave back; ``rounds``: running and queued jobs, rounds due now and overdue
    (due over :data:`OVERDUE_AFTER` ago); ``start_delay``: median and p95 seconds between
    due and start over the last hour; ``stalled_recovered``: all nodes together.
    """
    engine = archive.engine
    alive_after = iso_utc(now - timedelta(seconds=STALLED_AFTER))
    nodes = [{"name": n["name"], "started": n["started_at"], "last_heartbeat": n["last_seen"],
              "alive": n["stopped_at"] is None and n["last_seen"] >= alive_after,
              "dispatcher": bool(n["dispatcher"]) and n["stopped_at"] is None
              and n["last_seen"] >= alive_after,
              "rounds_running": n["running"], "rounds_run": n["rounds"],
              "stalled_recovered": n["recovered"]} for n in shared.nodes(engine)]
    due, overdue = shared.due_counts(engine, iso_utc(now), iso_utc(now - OVERDUE_AFTER))
    jobs = {status: len(urls) for status, urls in site_jobs(archive).items()}
    delays = shared.start_delays(engine, iso_utc(now - timedelta(hours=1)))
    return {
        "nodes": nodes,
        "nodes_alive": sum(1 for n in nodes if n["alive"]),
        "rounds": {"running": jobs["doing"], "queued": jobs["todo"], "due": due,
                   "overdue": overdue},
        "start_delay": shared.delay_summary(delays),
        "stalled_recovered": sum(n["stalled_recovered"] for n in nodes),
    }


def _next(due: str | None, every: timedelta, now: datetime) -> datetime:
    if due is None:
        return now + every
    later = parse_iso(due) + every
    return later if later > now else now + every
