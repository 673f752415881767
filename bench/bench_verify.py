"""Cost of `wpwatch verify` per 10,000 stored versions, and of chaining an old archive.

    .venv/bin/python bench/bench_verify.py [--versions 10000] [--runs 3]

Builds an archive the way rounds do (Archive.record_posts, listing responses of
100 real-sized posts made from tests/fixtures/posts/iuhrdf-post-4546.json, about
16 KB each): a baseline of half the versions, then a round that edits every
post (the other half, each with an `edited` change). Then times

* verify: every raw response decompressed and re-hashed, every version's
  normalized content re-hashed, every canonical record rebuilt and compared,
  the chain walked (median of --runs);
* migration 3 on the same data: the chain of an archive that had none.

Prints one line per figure, scaled to 10,000 versions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

REPO = Path(__file__).resolve().parent.parent
# Run as a script (python bench/bench_verify.py), so the repository root goes on sys.path
# before the project's own imports: hence the E402 exemptions below.
sys.path.insert(0, str(REPO))

from archive import Archive, RawResponse, schema, utcnow  # noqa: E402
from archive.chain import chain_unlinked  # noqa: E402
from archive.verify import verify_archive  # noqa: E402
from crawler.pipelines import to_record  # noqa: E402
from diffs.compare import changed_fields  # noqa: E402

TEMPLATE = json.loads((REPO / "tests/fixtures/posts/iuhrdf-post-4546.json").read_text())


def post(wp_id: int, edit: int) -> dict[str, Any]:
    p = json.loads(json.dumps(TEMPLATE))
    p["id"] = wp_id
    p["title"]["rendered"] = f"Statement {wp_id}" + (f" (edit {edit})" if edit else "")
    p["content"]["rendered"] = p["content"]["rendered"].replace("Uyghur", f"Uyghur {wp_id}.{edit}")
    return p


def build(archive: Archive, n_versions: int) -> None:
    site = archive.site("https://bench.example/en", "bench")["id"]
    n_posts = n_versions // 2
    for edit in (0, 1):
        for start in range(1, n_posts + 1, 100):
            posts = [post(i, edit) for i in range(start, min(start + 100, n_posts + 1))]
            body = json.dumps(posts).encode()
            resp = RawResponse(f"https://bench.example/en/wp-json/wp/v2/posts?page={start}", 200,
                               [("Content-Type", "application/json; charset=UTF-8")], body,
                               utcnow())
            archive.record_posts(site_id=site, round_id=None, type_="posts", response=resp,
                                 records=[to_record(i, p) for i, p in enumerate(posts)],
                                 baseline=edit == 0, compare=changed_fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wpwatch-bench-") as tmp:
        archive = Archive(str(Path(tmp) / "bench.db"))
        started = time.perf_counter()
        build(archive, args.versions)
        built = time.perf_counter() - started
        with archive.engine.connect() as conn:
            versions = conn.execute(select(func.count()).select_from(schema.versions)).scalar_one()
            changes = conn.execute(select(func.count()).select_from(schema.changes)).scalar_one()
            responses = conn.execute(
                select(func.count()).select_from(schema.responses)
            ).scalar_one()
        size = (Path(tmp) / "bench.db").stat().st_size
        per = 10_000 / versions
        print(f"archive: {versions} versions, {changes} changes, {responses} responses, "
              f"{size / 2**20:.0f} MiB; built in {built:.1f} s (normalizing included)")

        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            reports = verify_archive(archive)
            times.append(time.perf_counter() - t0)
            assert all(r.ok for r in reports), reports[0].problems[:3]
        med = statistics.median(times)
        print(f"verify: median {med:.2f} s of {args.runs} runs "
              f"(min {min(times):.2f}, max {max(times):.2f}) = {med * per:.2f} s per 10,000 "
              "versions")

        with archive.engine.begin() as conn:
            conn.execute(delete(schema.chain_links))
            t0 = time.perf_counter()
            made = chain_unlinked(conn, utcnow())
            chained = time.perf_counter() - t0
        print(f"migration 3 (chain an unchained archive): {made} links in {chained:.2f} s = "
              f"{chained * per:.2f} s per 10,000 versions")
        archive.close()


if __name__ == "__main__":
    main()
