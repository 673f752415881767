"""`wpwatch demo`: a real round trip on a bundled WordPress-like site, offline.

It serves the bundled posts on 127.0.0.1 (a subdirectory install, /en), runs
the real `wpwatch crawl` against it, makes one change of each kind, crawls
again (and once with --full, for the term change that never moves
`modified`), and prints what was found and what it cost, in words a newcomer
understands. It ends with the command to try next on the archive: the kept
file's real name, or how to keep one.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

from wpwatch.demo import DemoServer, apply_demo_changes, load_demo_site

KEPT_ARCHIVE = Path("wpwatch-demo.db")
"""Where `wpwatch demo --keep-db` writes the archive (the current directory)."""


def demo_archive_path(*, keep_db: bool, db_path: str | None, scratch: Path) -> Path:
    """The archive the demo writes: ``db_path`` (WPWATCH_DEMO_DB) first, then
    ./wpwatch-demo.db with --keep-db, else a file in ``scratch`` that goes away."""
    if db_path:
        return Path(db_path)
    return KEPT_ARCHIVE if keep_db else scratch / "demo.db"


def run_demo(
    *, echo: Callable[[str], None], keep_db: bool = False, db_path: str | None = None
) -> None:
    with tempfile.TemporaryDirectory(prefix="wpwatch-demo-") as tmp:
        db = demo_archive_path(keep_db=keep_db, db_path=db_path, scratch=Path(tmp))
        if db.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
        site = load_demo_site()
        with DemoServer(site, prefix="/en") as server:
            url = server.url_for(site)
            echo(f"Serving the bundled demo site at {url}")
            echo("(on this computer only: nothing is fetched from the internet).\n")

            def wpwatch(*args: str) -> str:
                proc = subprocess.run(
                    [sys.executable, "-m", "wpwatch", "--db", str(db),
                     "--config", os.devnull, *args],
                    capture_output=True, text=True, check=False,
                )
                if proc.returncode != 0:
                    raise SystemExit(
                        f"wpwatch demo: `wpwatch {' '.join(args)}` failed:\n{proc.stderr}"
                    )
                return proc.stdout.rstrip()

            echo("1. First round: wpwatch archives every post and page as they are now.")
            echo("   This is its starting point, so it reports no changes yet.")
            echo("   $ wpwatch crawl " + url)
            echo(_indent(wpwatch("crawl", url)))

            echo("\n2. Now the site changes, as it might overnight:")
            for change in apply_demo_changes(site):
                echo(_bullet(f"post {change['id']}: {change['what']}."))

            echo("\n3. Next round: wpwatch first asks the site a few cheap questions (which")
            echo("   posts were updated, how many there are), then downloads in full only")
            echo("   the posts that changed.")
            echo("   $ wpwatch crawl " + url)
            echo(_indent(wpwatch("crawl", url)))

            echo("\n4. A full round (--full) re-reads every post. It finds the tag added to")
            echo("   a post without updating its \"last modified\" time, which the quick")
            echo("   round could not see.")
            echo("   $ wpwatch crawl --full " + url)
            echo(_indent(wpwatch("crawl", "--full", url)))

            echo("\n5. When nothing has changed, a round costs a few small requests, however")
            echo("   big the site is:")
            echo("   $ wpwatch crawl " + url)
            echo(_indent(wpwatch("crawl", url)))

            echo("\n6. What wpwatch found:")
            echo("   $ wpwatch changes")
            echo(_indent(wpwatch("changes")))
            softened = _change_id(wpwatch("changes", "--json"), wp_id=4561)
            stats = server.stats()
        echo(
            f"\nIn all, the demo site answered {sum(s.get('requests', 0) for s in stats.values())} "
            "requests for these four rounds."
        )
        echo(_next_steps(db, kept=bool(keep_db or db_path), softened=softened))


def _next_steps(db: Path, *, kept: bool, softened: int | None) -> str:
    """The closing lines: the commands to try on the kept archive, or how to keep one."""
    if not kept:
        return (
            "\nThe archive was temporary and is gone. To keep it and look around, run\n"
            f"   wpwatch demo --keep-db\n"
            f"which writes {KEPT_ARCHIVE} in this directory; then try\n"
            f"   wpwatch --db {KEPT_ARCHIVE} changes"
        )
    archive = shlex.quote(str(db))
    lines = [f"\nThe archive is kept in {db}. Try next:", f"   wpwatch --db {archive} changes"]
    if softened is not None:
        lines.append(
            f"   wpwatch --db {archive} show {softened}"
            "      (the softened statement, word by word)"
        )
    lines.append(f"   wpwatch --db {archive} report --since 30d --out report")
    return "\n".join(lines)


def _change_id(changes_json: str, *, wp_id: int) -> int | None:
    return next((c["id"] for c in json.loads(changes_json) if c["wp_id"] == wp_id), None)


def _bullet(text: str) -> str:
    return textwrap.fill(text, width=88, initial_indent="   - ", subsequent_indent="     ")


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
