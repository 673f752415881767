"""What one quiet round costs in CPU, in one process, on each archive engine.

    .venv/bin/python bench/round_cost.py [--sites 30] [--repeat 10] [--concurrency 8]
    .venv/bin/python bench/round_cost.py --profile /tmp/rounds.prof   # and where it goes

Quiet demo sites (3 posts each, on their own loopback addresses, served by this
process's threads), one baseline round each, then ``--repeat`` passes of a quiet round
of every site through the crawler's own ``RoundRunner`` (what `wpwatch crawl`, the
daemon and a node all use), on an SQLite file and on a throw-away PostgreSQL
(tests/postgres.py). Prints the process's CPU per quiet round: the crawler, the
archive's client side and the demo server; PostgreSQL's own CPU is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive import Archive  # noqa: E402
from crawler.runner import RoundRunner, SiteSpec, run_sync  # noqa: E402
from tests.postgres import running_postgres  # noqa: E402
from wpwatch.demo import DemoServer, DemoSite  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(db: str, urls: list[str], repeat: int, concurrency: int,
                  long_lived: bool) -> dict[str, Any]:
    archive = Archive(db)
    runner = RoundRunner(archive, long_lived=long_lived)
    sem = asyncio.Semaphore(concurrency)

    async def one(url: str) -> dict[str, Any]:
        async with sem:
            return await runner.run_site(SiteSpec(url=url), budget=60)

    await asyncio.gather(*(one(u) for u in urls))  # baselines
    cpu, wall = cpu_seconds(), time.monotonic()
    for _ in range(repeat):
        records = await asyncio.gather(*(one(u) for u in urls))
        bad = [r for r in records if r["outcome"] != "ok"]
        if bad:
            raise SystemExit(f"a round was not ok: {bad[0]}")
    rounds = len(urls) * repeat
    await runner.close()
    archive.close()
    return {"rounds": rounds, "cpu_ms": (cpu_seconds() - cpu) / rounds * 1000,
            "rounds_per_s": rounds / (time.monotonic() - wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--crawler", choices=("per-round", "long-lived"), default="per-round",
                        help="a Crawler per round (crawl, the daemon) or one kept open (a node)")
    parser.add_argument("--profile", metavar="FILE.prof",
                        help="profile the SQLite run (cProfile) into this file")
    args = parser.parse_args()
    server = DemoServer()
    urls = []
    for i in range(args.sites):
        site = DemoSite(f"Site {i}")
        for k in range(3):
            site.add(f"Post {k}", "<p>A statement.</p>", date=f"2024-03-0{k + 1}T00:00:00Z")
        urls.append(server.add_site(site, host=f"127.0.{9 + i // 250}.{2 + i % 250}"))
    with server, tempfile.TemporaryDirectory() as tmp, running_postgres() as pg:
        engines = {"SQLite": str(Path(tmp) / "cost.db"), "PostgreSQL": pg.new_database()}
        results = {}

        async def both() -> None:
            for name, db in engines.items():
                profile = cProfile.Profile() if args.profile and name == "SQLite" else None
                if profile:
                    profile.enable()
                results[name] = await measure(db, urls, args.repeat, args.concurrency,
                                              args.crawler == "long-lived")
                if profile:
                    profile.disable()
                    profile.dump_stats(args.profile)

        run_sync(both)
    print("| crawler | archive | quiet rounds | CPU ms per round (this process) | rounds/s |\n"
          "| --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {args.crawler} | {name} | {r['rounds']} | {r['cpu_ms']:.1f} "
              f"| {r['rounds_per_s']:.1f} |")


if __name__ == "__main__":
    main()
