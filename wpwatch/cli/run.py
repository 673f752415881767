"""`wpwatch run`: the daemon (the same as `python scheduler.py`)."""

from __future__ import annotations

import sys

import click

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
@global_options
@pass_ctx
def run(obj: Ctx, grace: float | None) -> None:
    """Watch every site in the config on its own schedule until stopped.

    One round per site every `interval` (default 15m) and a --full round every
    `full_interval` (default 1d). SIGTERM/SIGINT stop it cleanly (exit 0);
    SIGHUP reloads the config. Same as `python scheduler.py`.

    \b
    Example:
      wpwatch --config /etc/wpwatch/wpwatch.toml --db /var/lib/wpwatch/wpwatch.db run
    """
    from wpwatch.daemon import Daemon

    sys.exit(Daemon(obj.db, obj.config_path, grace=grace, verbose=obj.verbose).run())
