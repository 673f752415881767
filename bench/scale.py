"""The cost of watching, at scale, against re-fetching everything.

    .venv/bin/python bench/scale.py [--sizes 100,1000,10000] [--sites 1000] [--repeat 3]

Serves WordPress-compatible sites (wpwatch/demo/: same REST behaviour
as the measured real WordPress, checked by tests/test_demo_server.py) on
loopback addresses, runs the real `wpwatch crawl` in a subprocess, and reads
requests and bytes from the server's own counters. Prints one Markdown table.
Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wpwatch.demo import DemoServer, DemoSite  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
PARAGRAPH = (
    "<p>The Foundation documents the detention of {i} members of the community and calls on "
    "the authorities to disclose their whereabouts, to allow independent monitors access to "
    "the facilities, and to release those held without charge. Families report that visits "
    "have been refused for months and that letters are returned unopened.</p>\n"
)


def article(paragraphs: int) -> str:
    return "".join(PARAGRAPH.replace("{i}", "{i}" if k == 0 else str(k)) for k in range(paragraphs))


def crawl(db: Path, urls: list[str], *extra: str) -> dict[str, float]:
    """Run `wpwatch crawl`; wall, CPU and peak RSS of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "wpwatch", "--db", str(db), "--config", os.devnull, "crawl",
         "--concurrency", "16", *extra, *urls],
        capture_output=True, text=True, env=ENV, timeout=900,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed: {proc.stderr[-2000:]}")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "maxrss_mb": after.ru_maxrss / 1024,
    }


def measured(site: DemoSite, fn: Any) -> tuple[int, int, Any]:
    site.reset_stats()
    out = fn()
    st = site.stats()
    return int(st["requests"]), int(st["bytes"]), out


def naive_round(url: str) -> None:
    """The simplest alternative a user could script: every page of full records, each round."""
    with requests.Session() as http:
        for base in ("posts", "pages"):
            page = 1
            while True:
                r = http.get(f"{url}wp-json/wp/v2/{base}", params={"per_page": 100, "page": page},
                             timeout=60)
                if r.status_code != 200:
                    break
                pages = int(r.headers.get("X-WP-TotalPages", "1"))
                if page >= pages:
                    break
                page += 1


def one_size(n: int, repeat: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    site = DemoSite(f"Scale {n}")
    # Posts six hours apart, like an active advocacy site: the round's two-hour
    # overlap then holds the newest post or so, as it would in real life.
    ids = site.add_many(n, content=article(12), step=timedelta(hours=6))
    with DemoServer(site) as srv, tempfile.TemporaryDirectory() as tmp:
        url = srv.url_for(site)
        db = Path(tmp) / "scale.db"
        req, nbytes, first = measured(site, lambda: crawl(db, [url]))
        size = sum(f.stat().st_size for f in Path(tmp).glob("scale.db*"))
        rows.append({"N": n, "round": "first crawl", "requests": req, "bytes": nbytes,
                     "wall_s": first["wall"], "cpu_s": first["cpu"],
                     "posts_per_s": n / first["wall"], "peak_rss_mb": first["maxrss_mb"],
                     "archive_vs_raw": size / max(nbytes, 1)})
        naive_req, naive_bytes, _ = measured(site, lambda: naive_round(url))
        for changed in (0, 1, 10, 100):
            samples = []
            for r in range(repeat):
                step = max(1, n // max(changed, 1))
                for k in range(changed):
                    site.edit(ids[(k * step + r) % n], title=f"Edited {r}-{k}")
                samples.append(measured(site, lambda: crawl(db, [url])))
            req = int(statistics.median(s[0] for s in samples))
            nb = int(statistics.median(s[1] for s in samples))
            rows.append({"N": n, "round": "quiet" if changed == 0 else f"{changed} changed",
                         "requests": req, "bytes": nb,
                         "wall_s": statistics.median(s[2]["wall"] for s in samples),
                         "naive_requests": naive_req, "naive_bytes": naive_bytes,
                         "ratio_bytes": naive_bytes / max(nb, 1)})
    return rows


def many_sites(count: int) -> dict[str, Any]:
    """One round over `count` quiet sites, each on its own loopback address."""
    server = DemoServer()
    urls = []
    for i in range(count):
        site = DemoSite(f"Site {i}")
        for k in range(5):
            site.add(f"Post {k}", article(2), date=f"2024-03-0{k + 1}T00:00:00Z")
        host = f"127.0.{2 + i // 250}.{2 + i % 250}"
        urls.append(server.add_site(site, host=host))
    with server, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "many.db"
        crawl(db, urls)  # baselines
        quiet = crawl(db, urls)
    return {"sites": count, **quiet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"# wpwatch scale benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores\n")
    print("| N | round | requests | bytes | wall s | naive requests | naive bytes | bytes ratio |"
          " other |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(x) for x in args.sizes.split(",") if x):
        for row in one_size(n, args.repeat):
            other = ""
            if row["round"] == "first crawl":
                other = (f"CPU {row['cpu_s']:.1f} s, {row['posts_per_s']:.0f} posts/s, "
                         f"peak RSS {row['peak_rss_mb']:.0f} MB, "
                         f"archive {row['archive_vs_raw']:.0%} of raw JSON")
            print(f"| {row['N']} | {row['round']} | {row['requests']} | {row['bytes']:,} | "
                  f"{row['wall_s']:.2f} | {row.get('naive_requests', '')} | "
                  f"{row.get('naive_bytes', '') and format(row['naive_bytes'], ',')} | "
                  f"{format(row['ratio_bytes'], ',.0f') + '×' if 'ratio_bytes' in row else ''}"
                  f" | {other} |",
                  flush=True)
    if args.sites:
        m = many_sites(args.sites)
        print(f"\n{m['sites']} quiet sites in one round: wall {m['wall']:.1f} s, "
              f"CPU {m['cpu']:.1f} s, peak RSS {m['maxrss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
