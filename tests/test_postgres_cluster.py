"""The coordination of several nodes on one PostgreSQL archive (wpwatch/cluster.py), on a
real server: one dispatcher at a time and a takeover when it goes, due rounds queued once
per site whatever the number of dispatch passes, and a procrastinate worker running them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from archive import Archive
from wpwatch.cluster import Dispatcher, SiteClock, ensure_queue_schema, make_app

SITES = [SiteClock(f"https://site{i}.example", timedelta(minutes=5), timedelta(days=1))
         for i in range(3)]


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
    ran: list[tuple[str, bool]] = []

    async def run_round(site_url: str, full: bool) -> None:
        ran.append((site_url, full))

    async def scenario() -> None:
        app = make_app(postgres_url, run_round)
        async with app.open_async():
            await ensure_queue_schema(app)
            await ensure_queue_schema(app)  # a second node starting: nothing to do
            leader = Dispatcher(postgres_url)
            try:
                assert await leader.try_lead()
                now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
                queued = await leader.queue_due(app, archive, SITES, now)
                assert queued == [s.url for s in SITES]  # new to the schedule: due at once
                # a pass a second later: nothing due; and a due site whose round still
                # waits is not queued twice (the queueing lock)
                assert await leader.queue_due(app, archive, SITES, now + timedelta(seconds=1)) \
                    == []
                archive.set_schedule(SITES[0].url, "2026-12-01T00:00:00.000Z", None)
                assert await leader.queue_due(app, archive, SITES[:1], now) == []
                await app.run_worker_async(wait=False, concurrency=2)
            finally:
                await leader.close()

    try:
        asyncio.run(scenario())
        assert sorted(ran) == sorted((s.url, True) for s in SITES)  # first rounds read all
        schedule = archive.schedules()
        assert schedule[SITES[1].url]["next_due"] == "2026-12-01T12:05:00.000Z"
        assert schedule[SITES[1].url]["next_full_due"] == "2026-12-02T12:00:00.000Z"
    finally:
        archive.close()
