"""The daemon: every configured site on its own schedule, for weeks; stops cleanly.

Why this shape (engineering-notes.md, measured on this kind of machine):
Scrapy's reactor cannot be restarted in a process, so the daemon keeps one
asyncio reactor running and drives rounds with ``AsyncCrawlerRunner`` from an
APScheduler ``AsyncIOScheduler`` on the same loop. Measured: flat memory over
hundreds of crawls, ~0.08 s overhead a round, clean SIGTERM in about a second.
(``TwistedScheduler`` deadlocks on Scrapy's DNS thread pool and its
``max_instances`` is ineffective; a subprocess per round costs ~1.5 s of CPU.)

Jobs are ``async def``: one incremental job and one ``--full`` job per site,
``max_instances=1`` (an overrunning round is skipped, not stacked),
``coalesce`` (a blocked loop gives one catch-up run, not a burst), a misfire
grace of one interval, and jitter so that sites don't all fire at once. A
per-site lock keeps the two jobs of one site from running together, and each
round has a time budget after which it is stopped and recorded interrupted.
One more job, "alerts", looks at the outbox every 30 s (immediate alerts that
failed before, and the round and daily digests when they fall due); every
round also delivers what it queued as soon as it ends.

SIGHUP reads wpwatch.toml again: a config that does not pass the same checks
as at start-up is refused in one log line and the running one is kept;
otherwise added, removed and changed sites and alert routes take effect and
one log line says what changed. The "alerts" job is never touched by a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from archive import Archive
from archive.store import db_url
from core import config as cfg
from core.exceptions import AlreadyRunning, ConfigError, WPWatchError
from core.values import iso_utc, parse_duration
from crawler.runner import RoundRunner, SiteSpec, quiet_scrapy_logs
from wpwatch import aftercare

logger = logging.getLogger("wpwatch.daemon")

DEFAULT_GRACE = 20.0
DELIVERY_INTERVAL = 30.0  # seconds between looks at the outbox (and after every round)
SITE_JOBS = ("round:", "full:")  # job ids of a site's rounds: "round:<url>", "full:<url>"


class ArchiveLock:
    """One daemon per archive: an exclusive, non-blocking flock next to it.

    The kernel drops the lock when the process dies, even by kill -9, so a
    crashed daemon never blocks its successor.
    """

    def __init__(self, db: str) -> None:
        url = db_url(db)
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///") + ".lock")
        else:  # a server database: one lock per URL on this machine
            import hashlib

            digest = hashlib.sha256(url.encode()).hexdigest()[:16]
            path = Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp")) / f"wpwatch-{digest}.lock"
        self.path = path
        self.file: TextIO | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the process's life)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise AlreadyRunning(
                f"another wpwatch daemon (pid {pid}) is already running on this archive "
                f"(lock {self.path}); stop it first"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self.file = f

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


class Daemon:
    def __init__(
        self,
        db: str,
        config_path: Path,
        *,
        grace: float | None = None,
        concurrency: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.db = db
        self.config_path = config_path
        self.verbose = verbose
        self.conf = load_checked(config_path)
        self.grace_option = grace
        self.grace = self._grace(self.conf)
        self.concurrency_option = concurrency
        self.concurrency = concurrency or int(self.conf.defaults.get("concurrency", 8))
        self.lock = ArchiveLock(db)
        self.archive: Archive | None = None
        self.runner: RoundRunner | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.site_locks: dict[str, asyncio.Lock] = {}
        self.running: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self._shutdown_task: asyncio.Future[None] | None = None
        self.sem: asyncio.Semaphore | None = None
        self.delivery_lock = asyncio.Lock()
        self.outbox: Any = None

    # -- lifecycle ------------------------------------------------------------------
    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code (0 on a clean stop)."""
        self.lock.acquire()
        try:
            quiet_scrapy_logs(self.verbose)
            logging.getLogger("wpwatch").setLevel(logging.INFO)
            from scrapy.utils.reactor import install_reactor

            install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
            from twisted.internet import reactor

            self.archive = Archive(self.db)
            interrupted = self.archive.mark_stale_rounds_interrupted()
            if interrupted:
                logger.warning("%d round(s) left running by a stopped process: marked interrupted",
                               interrupted)
            loop: Any = reactor  # an AsyncioSelectorReactor; the module attribute is untyped
            loop.callWhenRunning(lambda: asyncio.ensure_future(self._start()))
            loop.run(installSignalHandlers=False)
            logger.info("stopped")
            return 0
        finally:
            self.lock.release()

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        assert self.archive is not None
        self.runner = RoundRunner(self.archive)
        self.sem = asyncio.Semaphore(self.concurrency)
        self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        self.scheduler.start()
        self.apply(self.conf)
        self.scheduler.add_job(
            self.deliver_job, "interval", seconds=DELIVERY_INTERVAL, id="alerts",
            name="alert delivery", max_instances=1, coalesce=True,
            misfire_grace_time=int(DELIVERY_INTERVAL), next_run_time=datetime.now(UTC),
        )
        logger.info(
            "watching %d site(s) from %s; archive %s; pid %d",
            len(self.conf.sites), self.config_path, self.archive.label, os.getpid(),
        )

    def request_stop(self, sig: int = signal.SIGTERM) -> None:
        if self.stopping:
            return
        self.stopping = True
        logger.info("%s: stopping (grace %.0f s for %d running round(s))",
                    signal.Signals(sig).name, self.grace, len(self.running))
        self._shutdown_task = asyncio.ensure_future(self._shutdown())  # kept: not collected

    async def _shutdown(self) -> None:
        from twisted.internet import reactor

        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.running:
            _, pending = await asyncio.wait(set(self.running), timeout=self.grace)
            if pending and self.runner is not None:
                logger.warning("grace over: interrupting %d round(s)", len(pending))
                await self.runner.stop_all(grace=5.0)
                await asyncio.wait(pending, timeout=10.0)
        running: Any = reactor  # the AsyncioSelectorReactor that run() started
        running.stop()

    def _grace(self, conf: cfg.Config) -> float:
        if self.grace_option is not None:
            return self.grace_option
        return float(parse_duration(conf.defaults.get("grace", DEFAULT_GRACE), "defaults.grace"))

    def reload(self) -> None:
        """SIGHUP: read wpwatch.toml again; apply it whole, or keep the old one. One log line."""
        if self.stopping:
            return
        try:
            conf = load_checked(self.config_path)
        except WPWatchError as exc:
            logger.error("SIGHUP: config not reloaded, keeping the old one: %s", exc)
            return
        what = describe_changes(self.conf, conf)
        old = self.conf
        try:
            self.conf = conf
            self.grace = self._grace(conf)
            concurrency = self.concurrency_option or int(conf.defaults.get("concurrency", 8))
            if concurrency != self.concurrency:
                self.concurrency = concurrency
                self.sem = asyncio.Semaphore(concurrency)  # running rounds release the old one
            self.apply(conf)
        except Exception as exc:  # the old config goes on rather than a half-applied one
            logger.debug("reload failed", exc_info=True)
            self.conf = old
            self.apply(old)
            logger.error("SIGHUP: config not reloaded, keeping the old one: %s: %s",
                         type(exc).__name__, exc)
            return
        logger.info("SIGHUP: config reloaded: %s", what)

    # -- scheduling -------------------------------------------------------------------
    def apply(self, conf: cfg.Config) -> None:
        assert self.scheduler is not None and self.archive is not None
        from alerts.service import install_outbox

        self.archive.change_listeners.clear()
        self.outbox = install_outbox(self.archive, conf)
        wanted: set[str] = set()
        now = datetime.now(UTC)
        for site in conf.sites:
            for full, every in ((False, site.interval), (True, site.full_interval)):
                job_id = f"{'full' if full else 'round'}:{site.url}"
                wanted.add(job_id)
                trigger = IntervalTrigger(
                    seconds=every, jitter=min(every * 0.1, 60.0), timezone=UTC
                )
                existing = self.scheduler.get_job(job_id)
                if existing is not None:
                    if getattr(existing.trigger, "interval", None) != timedelta(seconds=every):
                        existing.reschedule(trigger)
                    continue
                # First runs are spread over a few seconds (incremental) or over the
                # interval (full: a baseline round is already a full read).
                first = now + timedelta(
                    seconds=random.uniform(0, min(every, 5.0)) if not full else every
                )
                self.scheduler.add_job(
                    self.round_job,
                    trigger,
                    args=[site.url, full],
                    id=job_id,
                    name=f"{'full ' if full else ''}round of {site.name}",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=max(1, int(every)),
                    next_run_time=first,
                )
        for job in self.scheduler.get_jobs():
            if job.id.startswith(SITE_JOBS) and job.id not in wanted:
                job.remove()  # a round of it already running finishes
        self._record_schedule()

    def _record_schedule(self) -> None:
        if self.scheduler is None or self.archive is None:
            return
        for site in self.conf.sites:
            nxt = self.scheduler.get_job(f"round:{site.url}")
            full = self.scheduler.get_job(f"full:{site.url}")
            self.archive.set_schedule(site.url, _iso(nxt), _iso(full))

    async def round_job(self, url: str, full: bool) -> None:
        """The scheduled job: runs the round as its own task, shielded.

        APScheduler cancels its running jobs on shutdown; the round must instead
        get its grace and end recorded, so it lives in a task the daemon owns.
        """
        task = asyncio.ensure_future(self._round(url, full))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        await asyncio.shield(task)

    async def _round(self, url: str, full: bool) -> None:
        """One round; any failure is recorded on the site, never raised."""
        site = self.conf.site(url)
        if site is None or self.stopping:
            return
        local = datetime.now().astimezone()
        if not site.active_at(local.hour * 60 + local.minute):
            return
        lock = self.site_locks.setdefault(url, asyncio.Lock())
        if lock.locked() and not full:
            return  # its --full round is running: that covers this one
        assert self.runner is not None and self.sem is not None and self.archive is not None
        try:
            async with lock, self.sem:
                if self.stopping:
                    return
                spec = SiteSpec.of(site)
                record = await self.runner.run_site(spec, full=full, budget=site.budget)
                await aftercare.after_round(self.archive, self.conf, self.outbox, site.name,
                                            full, record)
        except Exception:  # never let one site's failure reach the scheduler
            logger.exception("%s: round failed unexpectedly", url)
        finally:
            with contextlib.suppress(Exception):
                self._record_schedule()
        if not self.stopping:
            await self.deliver_job()

    async def deliver_job(self) -> None:
        """Send what the outbox holds (one pass at a time)."""
        if self.archive is None:
            return
        async with self.delivery_lock:
            await aftercare.deliver(self.archive, self.conf)


def load_checked(path: Path) -> cfg.Config:
    """The config, checked whole (sites, defaults, every route and its secrets)."""
    from alerts.service import check

    try:
        conf = cfg.load(path, must_exist=True)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    check(conf)
    return conf


def describe_changes(old: cfg.Config, new: cfg.Config) -> str:
    """What a reload changes, in one line: "1 site added (x), 1 removed (y), routes changed: z"."""
    parts: list[str] = []
    before = {s.url: s for s in old.sites}
    after = {s.url: s for s in new.sites}
    for verb, urls in (
        ("added", [u for u in after if u not in before]),
        ("removed", [u for u in before if u not in after]),
        ("changed", [u for u in after if u in before and after[u] != before[u]]),
    ):
        if urls:
            names = ", ".join((after.get(u) or before[u]).name for u in urls)
            noun = ("site " if len(urls) == 1 else "sites ") if not parts else ""
            parts.append(f"{len(urls)} {noun}{verb} ({names})")
    old_routes = {str(e["name"]): e for e in old.alerts}
    new_routes = {str(e["name"]): e for e in new.alerts}
    for verb, routes in (
        ("added", [n for n in new_routes if n not in old_routes]),
        ("removed", [n for n in old_routes if n not in new_routes]),
        ("changed", [n for n in new_routes if n in old_routes and new_routes[n] != old_routes[n]]),
    ):
        if routes:
            parts.append(f"routes {verb}: {', '.join(routes)}")
    keys = sorted(k for k in set(old.defaults) | set(new.defaults)
                  if old.defaults.get(k) != new.defaults.get(k))
    if keys:
        parts.append(f"defaults changed: {', '.join(keys)}")
    return ", ".join(parts) or "no changes"


def _iso(job: Any) -> str | None:
    when = getattr(job, "next_run_time", None)
    if when is None:
        return None
    return iso_utc(when)
