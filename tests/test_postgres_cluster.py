"""The coordination of several nodes on one PostgreSQL archive (wpwatch/cluster.py), on a
real server: one dispatcher at a time and a takeover when it goes, due rounds queued once
per site whatever the number of dispatch passes, and a procrastinate worker running them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from archive import Archive
from core.values import iso_utc, parse_iso
from wpwatch.cluster import (
    Dispatcher,
    SiteClock,
    ensure_queue_schema,
    make_app,
    queue_round,
    recover_stalled,
)

SITES = [SiteClock(f"https://site{i}.example", timedelta(minutes=5), timedelta(days=1))
         for i in range(3)]
CLOCKS = {site.url: site for site in SITES}


async def eventually_leads(node: Dispatcher, timeout: float = 10) -> bool:
    """Ask as the dispatch loop does, until the server has ended the old session."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await node.try_lead():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_one_dispatcher_at_a_time_and_another_takes_over(postgres_url: str) -> None:
    async def scenario() -> None:
        first, second = Dispatcher(postgres_url), Dispatcher(postgres_url)
        try:
            assert await first.try_lead() is True
            assert await second.try_lead() is False
            assert await first.try_lead() is True  # holding it, not taking it twice
            await first.close()  # the node dies: its connection and the lock go
            assert await eventually_leads(second)
            assert await first.try_lead() is False
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_due_rounds_are_queued_once_and_run_by_a_worker(postgres_url: str) -> None:
    archive = Archive(postgres_url)
    ran: list[tuple[str, bool, str | None]] = []

    async def run_round(site_url: str, full: bool, due: str | None) -> None:
        ran.append((site_url, full, due))

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    later = now + timedelta(seconds=6)  # every new site's first round is due by then

    async def scenario() -> None:
        app = make_app(postgres_url, run_round)
        async with app.open_async():
            await ensure_queue_schema(app)
            await ensure_queue_schema(app)  # a second node starting: nothing to do
            leader = Dispatcher(postgres_url)
            try:
                assert await leader.try_lead()
                assert Dispatcher.sync_sites(archive, SITES, now) == 3
                assert Dispatcher.sync_sites(archive, SITES, now) == 0  # known already
                firsts = {u: row["next_due"] for u, row in archive.schedules().items()}
                assert all(now <= parse_iso(d) <= now + timedelta(seconds=5)
                           for d in firsts.values())
                queued = await leader.queue_due(app, archive, CLOCKS, later)
                assert sorted(queued) == sorted(s.url for s in SITES)
                # a pass a second later: nothing due; and a due site whose round still
                # waits is not queued twice (the queueing lock)
                assert await leader.queue_due(app, archive, CLOCKS, later + timedelta(seconds=1)) \
                    == []
                archive.set_schedule(SITES[0].url, "2026-12-01T00:00:00.000Z", None)
                assert await leader.queue_due(app, archive, {SITES[0].url: SITES[0]}, later) == []
                await app.run_worker_async(wait=False, concurrency=2)
            finally:
                await leader.close()
        # each round ran once, incremental (a new site's first round reads all anyway),
        # with the due time it was queued for; the next is due one interval after it
        assert sorted(ran) == sorted((s.url, False, firsts[s.url]) for s in SITES)
        schedule = archive.schedules()
        for site in SITES[1:]:
            assert parse_iso(schedule[site.url]["next_due"]) == \
                parse_iso(firsts[site.url]) + site.interval
            assert schedule[site.url]["next_full_due"] == iso_utc(now + site.full_interval)

    try:
        asyncio.run(scenario())
    finally:
        archive.close()


def test_a_removed_site_loses_its_schedule(postgres_url: str) -> None:
    archive = Archive(postgres_url)
    try:
        now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        Dispatcher.sync_sites(archive, SITES, now)
        Dispatcher.sync_sites(archive, SITES[1:], now)
        assert sorted(archive.schedules()) == sorted(s.url for s in SITES[1:])
    finally:
        archive.close()


def test_stalled_rounds_are_given_back_or_failed_when_a_newer_one_waits(
    postgres_url: str,
) -> None:
    """A node that died mid-round: its job stays 'doing' and holds the site's lock. Every
    node gives such jobs back; when the site has a round waiting already (the queueing
    lock would refuse the give-back), the stalled job is failed instead. Either way the
    lock is free and the dead node's round is recorded interrupted."""
    archive = Archive(postgres_url)
    site_a, site_b = SITES[0].url, SITES[1].url

    async def run_round(site_url: str, full: bool, due: str | None) -> None:
        raise AssertionError("not run here")

    async def scenario() -> None:
        app = make_app(postgres_url, run_round)
        async with app.open_async():
            await ensure_queue_schema(app)
            manager = app.job_manager
            dead = await manager.register_worker()
            for url in (site_a, site_b):
                await queue_round(app, url, False, "2026-12-01T12:00:00.000Z")
                job = await manager.fetch_job(None, dead)  # the dead node took both
                assert job is not None
            assert await queue_round(app, site_b, False, "2026-12-01T12:05:00.000Z")
            # the dead node's round of site_a is in the archive, still 'running'
            archive.start_round(archive.site(site_a)["id"], full=False)
            assert await recover_stalled(app, archive, 10) == 0  # its heartbeat is fresh
            await app.connector.execute_query_async(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute'")
            assert await recover_stalled(app, archive, 10) == 2
            jobs = {(r["args"]["site_url"], r["status"]) for r in await
                    app.connector.execute_query_all_async(
                        "SELECT args, status FROM procrastinate_jobs")}
            assert jobs == {(site_a, "todo"), (site_b, "failed"), (site_b, "todo")}
            assert await recover_stalled(app, archive, 10) == 0  # nothing left stalled

    try:
        asyncio.run(scenario())
        last = archive.last_rounds()[archive.site(site_a)["id"]]
        assert last["outcome"] == "interrupted" and "node stopped" in last["error"]
    finally:
        archive.close()
