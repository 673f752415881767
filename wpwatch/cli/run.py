"""`wpwatch run`: the daemon (the same as `python scheduler.py`)."""

from __future__ import annotations

import sys

import click

from core.exceptions import ArchiveError
from wpwatch.cli._common import Ctx, global_options, pass_ctx


@click.command()
@click.option(
    "--grace",
    type=float,
    default=None,
    help=(
        "Seconds running rounds get to finish on SIGTERM/SIGINT"
        " (default 20, or [defaults] grace)."
    ),
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Rounds run at once by this process (default 8, or [defaults] concurrency).",
)
@global_options
@pass_ctx
def run(obj: Ctx, grace: float | None, concurrency: int | None) -> None:
    """Watch every site in the config on its own schedule until stopped.

    One round per site every `interval` (default 15m) and a --full round every
    `full_interval` (default 1d). SIGTERM/SIGINT stop it cleanly (exit 0);
    SIGHUP reloads the config. Same as `python scheduler.py`.

    On a PostgreSQL archive (--db postgresql://...) start the same command on
    every machine: the nodes share the rounds (one round of a site at a time),
    one of them queues the due rounds, and the rounds of a node that dies are
    run again by another. SIGHUP on any node reloads the config for all.

    \b
    Examples:
      wpwatch --config /etc/wpwatch/wpwatch.toml --db /var/lib/wpwatch/wpwatch.db run
      wpwatch --db postgresql://wpwatch@db.example/wpwatch run --concurrency 16
    """
    from archive.opening import is_postgres

    if is_postgres(obj.db):
        try:
            from wpwatch.node import Node
        except ModuleNotFoundError as exc:  # procrastinate and psycopg: wpwatch[postgres]
            raise ArchiveError(
                f"several nodes on PostgreSQL need {exc.name}: pip install 'wpwatch[postgres]'"
            ) from None

        node = Node(obj.db, obj.config_path, concurrency=concurrency, grace=grace,
                    verbose=obj.verbose)
        sys.exit(node.run())
    from wpwatch.daemon import Daemon

    daemon = Daemon(obj.db, obj.config_path, grace=grace, concurrency=concurrency,
                    verbose=obj.verbose)
    sys.exit(daemon.run())
