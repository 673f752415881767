"""One node of several on a PostgreSQL archive: what `wpwatch run` is on PostgreSQL.

Every node runs the same command with the same wpwatch.toml and secrets. On one
asyncio loop (Scrapy's asyncio reactor) a node runs:

* a worker: procrastinate's asyncio worker, ``--concurrency`` rounds at once, each
  round on the node's one :class:`~crawler.runner.RoundRunner` and its one Scrapy
  crawler, kept open for the node's life (crawler/host.py);
* a dispatch loop: every second, try to be the dispatcher (an advisory lock, see
  wpwatch/cluster.py); while it is, give new sites a schedule and queue due rounds;
* housekeeping every few seconds: the node's heartbeat row, the published config
  (a node that starts or gets SIGHUP publishes its wpwatch.toml; every node follows
  the newest), stalled jobs of dead nodes given back, the outbox delivered.

Faults: SIGKILL of a node leaves its rounds' jobs in ``doing``; its worker's heartbeat
stops, and within :data:`STALLED_AFTER` seconds any node gives them back to the queue.
SIGTERM stops fetching jobs, gives running rounds the grace to finish, then stops them
(recorded interrupted) and makes their sites due again at once, so another node takes
them. A database that goes away is retried with backoff, one log line a failure streak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate.exceptions import ConnectorException
from procrastinate.worker import Worker
from sqlalchemy.exc import DBAPIError

from archive import Archive
from archive import cluster as shared
from core import config as cfg
from core.exceptions import ArchiveError, ConfigError, WPWatchError
from core.values import iso_utc, parse_duration
from crawler.runner import RoundRunner, SiteSpec, quiet_scrapy_logs
from wpwatch import aftercare
from wpwatch.cluster import (
    HEARTBEAT,
    NOT_RECORDED,
    SETUP_LOCK,
    STALLED_AFTER,
    Dispatcher,
    SiteClock,
    conninfo,
    ensure_queue_schema,
    make_app,
    recover_stalled,
)
from wpwatch.daemon import DEFAULT_GRACE, DELIVERY_INTERVAL, describe_changes, load_checked

logger = logging.getLogger("wpwatch.node")

#: Seconds between dispatch passes (how late a due round can be queued).
DISPATCH_EVERY = 1.0
#: Longest pause between attempts to reach a database that went away.
BACKOFF_MAX = 30.0

#: What a database that went away raises, through each of the libraries that talk to it.
DB_ERRORS = (DBAPIError, psycopg.OperationalError, psycopg_pool.PoolTimeout,
             ConnectorException, ArchiveError, OSError)


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def checked_text(text: str, path: Path) -> cfg.Config:
    """A published config, checked as `load_checked` checks the file (secrets: this node's)."""
    from alerts.service import check

    try:
        conf = cfg.parse(tomllib.loads(text), path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the published config is not valid TOML: {exc}") from None
    check(conf)
    return conf


def clocks(conf: cfg.Config) -> dict[str, SiteClock]:
    """Site URL → how often its rounds are due: the dispatcher's view of a config."""
    return {s.url: SiteClock(s.url, timedelta(seconds=s.interval),
                             timedelta(seconds=s.full_interval)) for s in conf.sites}


class Node:
    def __init__(self, db: str, config_path: Path, *, concurrency: int | None = None,
                 grace: float | None = None, verbose: bool = False) -> None:
        self.db = db
        self.config_path = config_path
        self.verbose = verbose
        self.name = node_name()
        self.conf = load_checked(config_path)
        self.config_text = config_path.read_text(encoding="utf-8")
        self.digest = shared.config_digest(self.config_text)
        self.concurrency = concurrency or int(self.conf.defaults.get("concurrency", 8))
        self.grace = grace if grace is not None else float(
            parse_duration(self.conf.defaults.get("grace", DEFAULT_GRACE), "defaults.grace"))
        self.archive: Archive | None = None
        self.app: procrastinate.App | None = None
        self.worker: Worker | None = None
        self.runner: RoundRunner | None = None
        self.dispatcher = Dispatcher(db)
        self.outbox: Any = None
        self.synced: str | None = None  # the config digest the schedule was synced with
        self.clocks: dict[str, SiteClock] = {}  # of self.conf, set with it (_apply)
        self.running: dict[str, asyncio.Task[Any]] = {}  # site URL → its round
        self.rounds_done = 0
        self.recovered = 0
        self.stopping = False
        self.stop_event = asyncio.Event()
        self._troubles: dict[str, float] = {}  # loop name → when the database went away
        self.delivery_lock = asyncio.Lock()
        self.next_delivery = 0.0  # loop time of the next look at the outbox
        self.exit_code = 0

    # -- lifecycle ---------------------------------------------------------------------
    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
        quiet_scrapy_logs(self.verbose)
        logging.getLogger("wpwatch").setLevel(logging.INFO)
        if not self.verbose:  # a database that went away: our own one line says so
            for name in ("psycopg.pool", "procrastinate"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        from scrapy.utils.reactor import install_reactor

        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from twisted.internet import reactor

        loop: Any = reactor  # an AsyncioSelectorReactor; the module attribute is untyped
        main: list[asyncio.Future[None]] = []
        loop.callWhenRunning(lambda: main.append(asyncio.ensure_future(self._main(loop))))
        loop.run(installSignalHandlers=False)
        if main and main[0].done() and not main[0].cancelled() and main[0].exception():
            raise main[0].exception()  # type: ignore[misc]
        logger.info("stopped")
        return self.exit_code

    async def _main(self, reactor: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop, sig)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            if not await self._retrying("start", self._open):
                return
            logger.info("node %s: watching %d site(s) from %s; archive %s; %d round(s) at once",
                        self.name, len(self.conf.sites), self.config_path,
                        self.archive.label if self.archive else "?", self.concurrency)
            loops: list[asyncio.Task[Any]] = [
                asyncio.create_task(self._work(), name="worker"),
                asyncio.create_task(self._every("dispatch", DISPATCH_EVERY, self._dispatch),
                                    name="dispatch"),
                asyncio.create_task(self._every("housekeeping", HEARTBEAT, self._housekeeping),
                                    name="housekeeping")]
            stopped = asyncio.ensure_future(self.stop_event.wait())
            await asyncio.wait([stopped, *loops], return_when=asyncio.FIRST_COMPLETED)
            for task in loops:
                if task.done() and not self.stopping:  # a bug, not the database: stop so
                    # that the service manager starts the node again
                    self.exit_code = 1
                    logger.error("the %s loop ended unexpectedly: %r; stopping", task.get_name(),
                                 task.exception() if not task.cancelled() else "cancelled")
                    self.request_stop()
            await self._shutdown(loops)
        finally:
            reactor.stop()

    async def _open(self) -> None:
        """The archive (migrated) and the queue's tables, one node at a time; the config
        published; the node's row."""
        async with await psycopg.AsyncConnection.connect(conninfo(self.db),
                                                         autocommit=True) as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
            try:
                if self.app is not None:  # an earlier attempt got this far
                    with contextlib.suppress(*DB_ERRORS):
                        await self.app.close_async()
                if self.archive is not None:
                    self.archive.close()
                self.archive = await asyncio.to_thread(Archive, self.db)
                self.app = make_app(self.db, self.run_round)
                await self.app.open_async()
                await ensure_queue_schema(self.app)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
        archive = self.archive
        self.runner = RoundRunner(archive, long_lived=True)
        self._apply(self.conf)
        shared.publish_config(archive.engine, self.config_text, self.name)
        shared.node_started(archive.engine, self.name)

    def request_stop(self, sig: int = signal.SIGTERM) -> None:
        if self.stopping:
            return
        self.stopping = True
        logger.info("%s: stopping (grace %.0f s for %d running round(s))",
                    signal.Signals(sig).name, self.grace, len(self.running))
        self.stop_event.set()

    async def _shutdown(self, loops: list[asyncio.Task[Any]]) -> None:
        for task in loops[1:]:
            task.cancel()
        await asyncio.gather(*loops[1:], return_exceptions=True)
        await self.dispatcher.close()  # another node may lead at once
        if self.worker is not None:
            self.worker.stop()  # no new rounds; it waits for the running ones
        if self.running:
            _, pending = await asyncio.wait(set(self.running.values()), timeout=self.grace)
            if pending and self.runner is not None:
                logger.warning("grace over: stopping %d round(s); their sites go back to the "
                               "queue", len(pending))
                await self.runner.stop_all(grace=5.0)
                await asyncio.wait(pending, timeout=10.0)
        _, still = await asyncio.wait([loops[0]], timeout=15.0)  # the worker, done or not
        for task in still:
            task.cancel()
        if self.runner is not None:
            await self.runner.close()
        if self.archive is not None:
            with contextlib.suppress(*DB_ERRORS):
                shared.node_stopped(self.archive.engine, self.name)
        if self.app is not None:
            with contextlib.suppress(*DB_ERRORS):
                await self.app.close_async()

    async def _retrying(self, what: str, step: Callable[[], Awaitable[None]]) -> bool:
        """Run ``step`` until it succeeds, pausing with backoff while the database is away.
        False when the node is stopped meanwhile."""
        pause = 1.0
        while not self.stopping:
            try:
                await step()
            except DB_ERRORS as exc:
                self._trouble(what, exc, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), pause)
                pause = min(pause * 2, BACKOFF_MAX)
                continue
            self._back(what)
            return True
        return False

    def _trouble(self, what: str, exc: BaseException, pause: float) -> None:
        """One line when the database goes away (whichever loop sees it first); quiet while
        it stays away; one line when it is back."""
        if not self._troubles:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            logger.error("the database is unreachable (%s: %s); retrying with backoff",
                         what, reason)
        self._troubles.setdefault(what, asyncio.get_running_loop().time())
        logger.debug("%s: database error", what, exc_info=True)

    def _back(self, what: str) -> None:
        since = self._troubles.pop(what, None)
        if since is not None and not self._troubles:
            logger.info("the database is back after %.0f s",
                        asyncio.get_running_loop().time() - since)

    async def _every(self, what: str, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        while not self.stopping:
            if not await self._retrying(what, step):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), seconds)

    # -- the worker ---------------------------------------------------------------------
    async def _work(self) -> None:
        async def one_worker() -> None:
            assert self.app is not None
            self.worker = Worker(
                self.app, name=self.name, concurrency=self.concurrency, wait=True,
                install_signal_handlers=False, listen_notify=True,
                update_heartbeat_interval=HEARTBEAT, stalled_worker_timeout=STALLED_AFTER,
                shutdown_graceful_timeout=None, delete_jobs="successful")
            await self.worker.run()

        await self._retrying("worker", one_worker)

    async def run_round(self, site_url: str, full: bool, due: str | None) -> None:
        """The job: one round of one configured site, then its aftercare. Never raises:
        a failed round is the site's record, not a failed job."""
        site = self.conf.site(site_url)
        if site is None or self.stopping or self.archive is None or self.runner is None:
            return  # removed from the config since it was queued
        local = datetime.now().astimezone()
        if not site.active_at(local.hour * 60 + local.minute):
            return
        archive, runner = self.archive, self.runner
        # recorded with the round's opening: its start delay, and a stale round ended
        start = shared.RoundStart(due or iso_utc(datetime.now(UTC)), self.name, NOT_RECORDED)
        task = asyncio.ensure_future(runner.run_site(SiteSpec.of(site), full=full,
                                                     budget=site.budget, start=start))
        self.running[site_url] = task
        try:
            record = await asyncio.shield(task)
            if self.stopping and record.get("outcome") == "interrupted":
                shared.due_now(archive.engine, site_url)  # another node takes it
            await aftercare.after_round(archive, self.conf, self.outbox, site.name, full, record)
            self._back("round")
        except DB_ERRORS as exc:
            self._trouble("round", exc, 0)
        except Exception:  # never let one site's failure reach the queue
            logger.exception("%s: round failed unexpectedly", site_url)
        finally:
            self.running.pop(site_url, None)
            self.rounds_done += 1
        if not self.stopping:
            await self.deliver()

    # -- dispatching and housekeeping ---------------------------------------------------
    async def _dispatch(self) -> None:
        if self.archive is None or self.app is None or not await self.dispatcher.try_lead():
            return
        now = datetime.now(UTC)
        if self.synced != self.digest:
            new = await asyncio.to_thread(self.dispatcher.sync_sites, self.archive,
                                          self.clocks.values(), now)
            self.synced = self.digest
            if new:
                logger.info("dispatcher: %d new site(s) scheduled", new)
        await self.dispatcher.queue_due(self.app, self.archive, self.clocks, now)

    async def _housekeeping(self) -> None:
        assert self.archive is not None and self.app is not None
        engine = self.archive.engine
        shared.node_heartbeat(engine, self.name, dispatcher=self.dispatcher.leading,
                              running=len(self.running), rounds=self.rounds_done,
                              recovered=self.recovered)
        published = shared.published_digest(engine)
        if published is not None and published != self.digest:
            self._follow(shared.published_config(engine))
        self.recovered += await recover_stalled(self.app, self.archive, STALLED_AFTER)
        loop = asyncio.get_running_loop()
        if loop.time() >= self.next_delivery:
            self.next_delivery = loop.time() + DELIVERY_INTERVAL
            shared.prune_history(engine, iso_utc(datetime.now(UTC) - timedelta(
                hours=shared.START_HISTORY_HOURS)))
            await self.deliver()

    async def deliver(self) -> None:
        if self.archive is not None:
            async with self.delivery_lock:
                await aftercare.deliver(self.archive, self.conf)

    # -- the config ---------------------------------------------------------------------
    def _apply(self, conf: cfg.Config) -> None:
        assert self.archive is not None
        from alerts.service import install_outbox

        self.archive.change_listeners.clear()
        self.outbox = install_outbox(self.archive, conf)
        self.conf = conf
        self.clocks = clocks(conf)

    def reload(self) -> None:
        """SIGHUP: read wpwatch.toml again; publish it, so that every node runs it."""
        if self.stopping or self.archive is None:
            return
        try:
            conf = load_checked(self.config_path)
            text = self.config_path.read_text(encoding="utf-8")
        except (WPWatchError, OSError) as exc:
            logger.error("SIGHUP: config not reloaded, keeping the old one: %s", exc)
            return
        what = describe_changes(self.conf, conf)
        self._apply(conf)
        self.config_text, self.digest = text, shared.config_digest(text)
        try:
            shared.publish_config(self.archive.engine, text, self.name)
        except DB_ERRORS as exc:
            logger.error("SIGHUP: config reloaded here but not published to the other "
                         "nodes (%s); send SIGHUP again when the database is back", exc)
            return
        logger.info("SIGHUP: config reloaded and published to every node: %s", what)

    def _follow(self, published: shared.PublishedConfig | None) -> None:
        """Run the config another node published (checked with this node's secrets)."""
        if published is None:
            return
        try:
            conf = checked_text(published.text, self.config_path)
        except WPWatchError as exc:
            logger.error("config published by %s not taken, keeping the old one: %s",
                         published.published_by, exc)
        else:
            what = describe_changes(self.conf, conf)
            self._apply(conf)
            self.config_text = published.text
            logger.info("config reloaded as published by %s: %s", published.published_by,
                        what)
        self.digest = published.digest  # not tried again until the next one
