"""The `wpwatch` command: the group, its global options, and the command families.

Each family lives in its own module and defines plain click commands; this module
only builds the group and adds them, so nothing here is imported back by them.
"""

from __future__ import annotations

from pathlib import Path

import click

from core.about import VERSION
from wpwatch.cli import (
    alerts,
    changes,
    coverage,
    crawl,
    demo,
    evidence,
    report,
    rescore,
    run,
    serve,
    sites,
    status,
    users,
)
from wpwatch.cli._common import (
    CONFIG_HELP,
    DB_HELP,
    DEFAULT_CONFIG,
    DEFAULT_DB,
    VERBOSE_HELP,
    Ctx,
    Group,
)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="WPWATCH_DB", default=DEFAULT_DB, show_default=True, help=DB_HELP)
@click.option(
    "--config",
    "config_path",
    envvar="WPWATCH_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help=CONFIG_HELP,
)
@click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)
@click.version_option(VERSION, prog_name="wpwatch")
@click.pass_context
def cli(ctx: click.Context, db: str, config_path: Path, verbose: bool) -> None:
    """Watch WordPress sites through their REST API; keep every version of every post.

    \b
    Example:
      wpwatch crawl https://example.org      # first round: a baseline
      wpwatch crawl https://example.org      # later rounds: what changed
      wpwatch changes --since 7d
    """
    ctx.obj = Ctx(db, config_path, verbose)


for command in (
    crawl.crawl,
    sites.sites,
    changes.changes,
    changes.history,
    status.status,
    run.run,
    demo.demo,
    alerts.alerts,
    evidence.verify,
    evidence.export,
    evidence.timestamp,
    report.show,
    report.diff_versions,
    report.report,
    serve.serve,
    users.users,
    rescore.rescore,
    coverage.coverage,
):
    cli.add_command(command)


def main() -> None:
    """The `wpwatch` console script and `python -m wpwatch`."""
    cli.main(prog_name="wpwatch")


__all__ = ["cli", "main"]
