"""`wpwatch demo`: a real round trip on a bundled WordPress-like site, offline.

It serves the bundled posts on 127.0.0.1 (a subdirectory install, /en), runs
the real `wpwatch crawl` against it, makes one change of each kind, crawls
again (and once with --full, for the term change that never moves
`modified`), and prints what was found and what it cost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from wpwatch.demo import DemoServer, apply_demo_changes, load_demo_site


def run_demo(
    *, echo: Callable[[str], None], keep_db: bool = False, db_path: str | None = None
) -> None:
    with tempfile.TemporaryDirectory(prefix="wpwatch-demo-") as tmp:
        db = Path(db_path) if db_path else (Path("wpwatch-demo.db") if keep_db else Path(tmp) / "demo.db")
        if db.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        site = load_demo_site()
        with DemoServer(site, prefix="/en") as server:
            url = server.url_for(site)
            echo(f"Serving the bundled demo site at {url} (loopback only).\n")

            def wpwatch(*args: str) -> str:
                proc = subprocess.run(
                    [sys.executable, "-m", "wpwatch", "--db", str(db),
                     "--config", os.devnull, *args],
                    capture_output=True, text=True, check=False,
                )
                if proc.returncode != 0:
                    raise SystemExit(f"wpwatch demo: `wpwatch {' '.join(args)}` failed:\n{proc.stderr}")
                return proc.stdout.rstrip()

            echo("1. First round: a baseline of every post and page, no alerts.")
            echo("   $ wpwatch crawl " + url)
            echo(_indent(wpwatch("crawl", url)))

            echo("\n2. The site changes:")
            for change in apply_demo_changes(site):
                echo(f"   - post {change['id']}: {change['what']}")

            echo("\n3. Next round: cheap listings, then full records of just what moved.")
            echo("   $ wpwatch crawl " + url)
            echo(_indent(wpwatch("crawl", url)))

            echo("\n4. A --full round re-reads every post and finds the tag set behind")
            echo("   WordPress's back (no `modified` bump).")
            echo("   $ wpwatch crawl --full " + url)
            echo(_indent(wpwatch("crawl", "--full", url)))

            echo("\n5. A quiet round costs a few small requests, whatever the site's size:")
            echo("   $ wpwatch crawl " + url)
            echo(_indent(wpwatch("crawl", url)))

            echo("\n6. What wpwatch found:")
            echo("   $ wpwatch changes")
            echo(_indent(wpwatch("changes")))
            stats = server.stats()
        echo(
            f"\nThe server answered {sum(s.get('requests', 0) for s in stats.values())} requests "
            "in all."
        )
        if keep_db or db_path:
            echo(f"The archive is in {db}: try `wpwatch --db {db} history {url} posts 4561`.")


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
