"""`wpwatch demo`: a real round trip on the bundled demo site, offline."""

from __future__ import annotations

import os

import click

from wpwatch.cli._common import Ctx, global_options, pass_ctx


@click.command()
@click.option("--keep-db", is_flag=True,
              help="Keep the demo archive afterwards, as ./wpwatch-demo.db.")
@global_options
@pass_ctx
def demo(obj: Ctx, keep_db: bool) -> None:
    """Watch a small bundled WordPress-like site on loopback and show what wpwatch finds.

    Needs no internet: it serves the bundled posts on 127.0.0.1, crawls them
    (a baseline), edits, unpublishes, deletes and back-dates posts, crawls
    again and prints the changes. The archive is thrown away unless --keep-db
    (./wpwatch-demo.db) or $WPWATCH_DEMO_DB (that path) keeps it.

    \b
    Examples:
      wpwatch demo
      wpwatch demo --keep-db && wpwatch --db wpwatch-demo.db changes
    """
    from wpwatch.demo.run import run_demo

    run_demo(echo=click.echo, keep_db=keep_db, db_path=os.environ.get("WPWATCH_DEMO_DB"))
