"""The review workspace at scale: the queue page and /api/changes over 100,000 changes.

    .venv/bin/python bench/bench_web.py [--changes 100000] [--sites 50] [--repeat 15]

Builds an archive with the real schema (sites, responses, posts, versions and changes
inserted in bulk, which is much faster than crawling 100,000 changes; the questions
asked are the same), indexes it for the queue as `wpwatch serve` does at start, triages a
share of the changes, then runs the real `wpwatch serve` under uvicorn on loopback and
times each URL over HTTP (median of --repeat, after one warm-up). Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import requests
from sqlalchemy import insert

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# the project's own modules, importable once the repository is on sys.path
from archive import Archive, notes  # noqa: E402
from archive import schema as s  # noqa: E402
from tests.test_web_http import PASSWORD, start_server, stop_server  # noqa: E402
from web.auth import hash_password, new_token  # noqa: E402
from web.index import Scoring, catch_up  # noqa: E402

WORDS = ("statement", "human", "rights", "detention", "camp", "report", "Uyghur", "court",
         "minister", "protest", "release", "journalist", "election", "police", "decree")
KINDS = ("edited",) * 6 + ("new",) * 2 + ("deleted", "unpublished", "restored")
FIELDS = (["content"], ["title", "content"], ["links"], ["date"], ["markup"], ["slug", "link"])
URLS = [
    "/", "/?kind=edited&site=3", "/?state=new", "/?state=new&sort=priority", "/?q=detention",
    "/?q=court+uyghur&state=new&sort=priority",
    "/?label=cosmetic&sort=priority", "/?since=2026-06-01&until=2026-07-01&kind=deleted",
]


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(db: Path, changes: int, sites: int) -> None:
    rng = random.Random(7)
    archive = Archive(str(db))
    with archive.engine.begin() as conn:
        conn.execute(insert(s.sites), [
            {"id": i, "url": f"https://site{i}.example", "name": f"site{i}",
             "created_at": "2026-01-01T00:00:00.000Z"} for i in range(1, sites + 1)])
        conn.execute(insert(s.responses), [{
            "id": i, "site_id": 1, "url": "https://site1.example/wp-json/wp/v2/posts",
            "status": 200, "headers": "[]", "body": zlib.compress(b"[]"), "sha256": "0" * 64,
            "size": 2, "fetched_at": "2026-01-01T00:00:00.000Z"} for i in range(1, changes + 1)])
        posts = changes // 5
        conn.execute(insert(s.posts), [{
            "id": i, "site_id": 1 + i % sites, "type": "posts", "wp_id": i, "state": "published",
            "link": f"https://site{1 + i % sites}.example/{i}/", "title": text(rng, 6),
            "first_seen": "2026-01-01T00:00:00.000Z", "last_seen": "2026-01-01T00:00:00.000Z",
        } for i in range(1, posts + 1)])
        rows, versions = [], []
        steps: dict[int, int] = {}  # post → its versions and changes so far (post_seq)
        for i in range(1, changes + 1):
            post = 1 + i % posts
            steps[post] = steps.get(post, 0) + 1
            day = 1 + i * 360 // (changes + 1)
            stamp = f"2026-{1 + (day - 1) // 30:02d}-{1 + (day - 1) % 28:02d}T12:00:00.000Z"
            normalized = {"title": text(rng, 6), "text": [text(rng, 40) for _ in range(4)]}
            versions.append(
                {
                    "id": i,
                    "post_id": post,
                    "post_seq": steps[post],
                    "response_id": i,
                    "content_hash": f"{i:064x}",
                    "normalized": zlib.compress(json.dumps(normalized).encode()),
                    "fetched_at": stamp,
                }
            )
            kind = rng.choice(KINDS)
            rows.append({"id": i, "site_id": 1 + post % sites, "post_id": post,
                         "post_seq": steps[post], "kind": kind,
                         "from_version_id": i - 1 if i > 1 and kind != "new" else None,
                         "to_version_id": i, "fields": json.dumps(
                             rng.choice(FIELDS) if kind == "edited" else []),
                         "detected_at": stamp})
        conn.execute(insert(s.versions), versions)
        conn.execute(insert(s.changes), rows)
    started = time.perf_counter()
    catch_up(archive, Scoring(("Uyghur", "decree"), {"https://site3.example": 2.0}))
    print(f"indexed {changes:,} changes in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    notes.add_user(archive, "bench", "reviewer", hash_password(PASSWORD))
    for change_id in rng.sample(range(1, changes + 1), changes // 20):
        notes.triage(archive, change_id, "bench", state=rng.choice(notes.STATES[1:]),
                     labels=[rng.choice(("cosmetic", "substantive-text", "backdated"))])
    archive.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--db", type=Path, help="reuse (or keep) the archive built here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, config = args.db or Path(tmp) / "bench.db", Path(tmp) / "wpwatch.toml"
        config.write_text('[defaults]\nlabels = ["cosmetic", "substantive-text", "backdated"]\n'
                          '[[alerts]]\nname = "a"\nchannel = "slack"\nwebhook_url = "x"\n'
                          'keywords = ["Uyghur", "decree"]\n'
                          '[[sites]]\nurl = "https://site3.example"\nweight = 2\n',
                          encoding="utf-8")
        if not db.exists():
            build(db, args.changes, args.sites)
        archive = Archive(str(db))
        token, digest = new_token()
        notes.add_token(archive, "bench", digest)
        archive.close()
        server = start_server(db, config)
        try:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            print(f"{args.changes:,} changes, {args.sites} sites, median of {args.repeat}:\n")
            print("| URL | queue page ms | /api/changes ms | matches |")
            print("| --- | --- | --- | --- |")
            for url in URLS:
                api = "/api/changes" + url[1:]
                figures = []
                for path in (url, api):
                    session.get(server.url + path, timeout=60).raise_for_status()  # warm-up
                    times = []
                    for _ in range(args.repeat):
                        start = time.perf_counter()
                        response = session.get(server.url + path, timeout=60)
                        times.append((time.perf_counter() - start) * 1000)
                        response.raise_for_status()
                    figures.append(statistics.median(times))
                total = session.get(server.url + api, timeout=60).json()["total"]
                print(f"| `{url}` | {figures[0]:.0f} | {figures[1]:.0f} | {total:,} |")
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
