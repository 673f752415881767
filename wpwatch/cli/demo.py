"""`wpwatch demo`: a real round trip on the bundled demo site, offline."""

from __future__ import annotations

import os

import click

from wpwatch.cli._common import Ctx, global_options, pass_ctx


@click.command()
@click.option("--keep-db", is_flag=True, help="Keep the demo archive (demo.db) afterwards.")
@global_options
@pass_ctx
def demo(obj: Ctx, keep_db: bool) -> None:
    """Watch a small bundled WordPress-like site on loopback and show what wpwatch finds.

    Needs no internet: it serves the bundled posts on 127.0.0.1, crawls them
    (a baseline), edits, unpublishes, deletes and back-dates posts, crawls
    again and prints the changes.

    \b
    Example:
      wpwatch demo
    """
    from wpwatch.demo.run import run_demo

    run_demo(echo=click.echo, keep_db=keep_db, db_path=os.environ.get("WPWATCH_DEMO_DB"))
