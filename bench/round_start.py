"""What starting a quiet round costs the archive's client, by site size.

    .venv/bin/python bench/round_start.py [--posts 3,200,2000] [--repeat 100]

A throw-away PostgreSQL (tests/postgres.py), one site of N archived posts, then
``--repeat`` round starts three ways: reading the site's memory and opening the round
(`wpwatch crawl` and the daemon, every round), `Archive.begin_round` with the memory
kept from its last round (read again only when its version moved), and a node's start
of a round with its start record (on PostgreSQL one statement, in autocommit).
Prints this process's CPU per round start (PostgreSQL's own is not in it).
"""

from __future__ import annotations

import argparse
import resource
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive import Archive, PostRecord, RawResponse, utcnow  # noqa: E402
from archive.cluster import RoundStart  # noqa: E402
from tests.postgres import running_postgres  # noqa: E402

URL = "https://site.example"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def archived_site(archive: Archive, posts: int) -> None:
    site = archive.site(URL, "site")["id"]
    records = [PostRecord(i, 0, {"title": "T", "text": ["A statement."]}, f"{i:064x}",
                          "2026-01-01T00:00:00", "2025-01-01T00:00:00", f"{URL}/{i}/", "T", 1)
               for i in range(1, posts + 1)]
    for start in range(0, posts, 100):
        archive.record_posts(
            site_id=site, round_id=None, type_="posts", records=records[start:start + 100],
            response=RawResponse(f"{URL}/wp-json/wp/v2/posts", 200, [], b"[]", utcnow()),
            baseline=True, compare=lambda old, new: [])


def per_start(repeat: int, start: Callable[[], object]) -> float:
    cpu = cpu_seconds()
    for _ in range(repeat):
        start()
    return (cpu_seconds() - cpu) / repeat * 1000


def measure(archive: Archive, repeat: int) -> tuple[float, float, float]:
    """CPU ms per round start: reading and opening; on a kept memory in one transaction;
    a node's (its start record too: one statement on PostgreSQL)."""

    def read_and_open() -> None:
        archive.round_memory(URL)
        archive.open_round(URL, "site", False)

    def node_start() -> None:
        start = RoundStart(due_at=utcnow(), node="bench", stale="bench")
        archive.begin_round(URL, "site", False, kept, start)

    kept = archive.begin_round(URL, "site", False).memory
    return (per_start(repeat, read_and_open),
            per_start(repeat, lambda: archive.begin_round(URL, "site", False, kept)),
            per_start(repeat, node_start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", default="3,200,2000")
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    print("| posts | read and open (crawl, daemon) ms | kept memory, one transaction ms "
          "| a node's start, one statement ms | ratio, first to last |\n"
          "| --- | --- | --- | --- | --- |")
    with running_postgres() as pg:
        for posts in (int(n) for n in args.posts.split(",")):
            archive = Archive(pg.new_database())
            archived_site(archive, posts)
            cold, warm, node = measure(archive, args.repeat)
            print(f"| {posts} | {cold:.2f} | {warm:.2f} | {node:.2f} | {cold / node:.1f}x |")
            archive.close()


if __name__ == "__main__":
    main()
