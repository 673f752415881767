"""`wpwatch alerts test|pending|send`: the outbox from the command line."""

from __future__ import annotations

import json

import click

from wpwatch.cli._common import Ctx, Group, global_options, json_option, pass_ctx
from wpwatch.exceptions import ConfigError


@click.group(cls=Group)
@global_options
def alerts() -> None:
    """Alert channels and the outbox of alerts waiting to be delivered.

    \b
    Examples:
      wpwatch alerts test desk-email     # send a test message now
      wpwatch alerts pending             # what is queued, and why
      wpwatch alerts send --dry-run      # what would be sent where
    """


@alerts.command("test")
@click.argument("channel")
@global_options
@pass_ctx
def alerts_test(obj: Ctx, channel: str) -> None:
    """Send a test message through CHANNEL (a [[alerts]] name in the config).

    \b
    Example:
      wpwatch alerts test desk-email
    """
    from alerts.message import test_message
    from alerts.service import channels

    configured = channels(obj.config(must_exist=True))
    found = configured.get(channel)
    if found is None:
        raise ConfigError(f"no [[alerts]] named {channel!r} in {obj.config_path}; "
                          f"configured: {', '.join(configured) or 'none'}")
    found.send(test_message(channel))  # a DeliveryError is the usual one-line error
    click.echo(f"sent a test message: {found.describe()}")


@alerts.command("pending")
@json_option()
@global_options
@pass_ctx
def alerts_pending(obj: Ctx, as_json: bool) -> None:
    """List alerts not yet delivered (queued, waiting for a digest, or failing).

    \b
    Examples:
      wpwatch alerts pending
      wpwatch alerts pending --json
    """
    from alerts.deliver import pending

    rows = pending(obj.archive)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no alerts pending")
    for r in rows:
        why = f"; last error: {r['last_error']}" if r["last_error"] else ""
        click.echo(
            f"alert #{r['id']} → {r['channel']} ({r['digest']}, due {r['due_at'][:16]}Z, "
            f"{r['attempts']} attempts{why}): change #{r['change_id']} {r['kind']} "
            f"{r['site']} {r['type']}/{r['wp_id']}"
        )


@alerts.command("send")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
@click.option("--now", "ignore_backoff", is_flag=True,
              help="Retry failed alerts now instead of waiting out their backoff.")
@global_options
@pass_ctx
def alerts_send(obj: Ctx, dry_run: bool, ignore_backoff: bool) -> None:
    """Deliver every alert that is due (the daemon runs the same code).

    \b
    Example (the mail server is back; don't wait for the retry timer):
      wpwatch alerts send --now
    """
    from alerts.service import deliver_due

    report = deliver_due(obj.archive, obj.config(must_exist=True), dry_run=dry_run,
                         ignore_backoff=ignore_backoff)
    for line in report.would_send:
        click.echo(f"would send {line}")
    for line in report.failed:
        click.echo(f"wpwatch: not delivered: {line}", err=True)
    if not dry_run:
        click.echo(f"sent {report.sent} message(s) for {report.alerts_sent} alert(s); "
                   f"{len(report.failed)} failed")
    if report.failed:
        raise SystemExit(1)
