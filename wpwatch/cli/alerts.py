"""`wpwatch alerts test|pending|send`: the outbox from the command line."""

from __future__ import annotations

import json

import click

from core.exceptions import ConfigError
from wpwatch.cli._common import Ctx, Group, global_options, json_option, pass_ctx


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
    from alerts.deliver import pending, route_states, when

    rows = pending(obj.archive)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no alerts pending")
    for route, state in route_states(obj.archive).items():  # each route's latest failure first
        failing = (f"; last error: {state['last_error']}; next automatic attempt "
                   f"{when(state['next_attempt_at'])}" if state["last_error"] else "")
        click.echo(f"{route}: {state['pending']} pending{failing}")
    for r in rows:
        why = f"; last error: {r['last_error']}" if r["last_error"] else ""
        what = (f"change #{r['change_id']} {r['kind']} {r['site']} {r['type']}/{r['wp_id']}"
                if r["change_id"] is not None else f"{r['kind']} {r['site']}")
        click.echo(
            f"alert #{r['id']} → {r['channel']} ({r['digest']}, due {r['due_at'][:16]}Z, "
            f"{r['attempts']} attempts{why}): {what}"
        )


@alerts.command("send")
@click.option("--dry-run", is_flag=True,
              help="List every pending alert (what would be sent now, what waits and why); "
                   "send nothing.")
@click.option("--now", "_now", is_flag=True, hidden=True,
              help="Accepted for old scripts: sending now is what `alerts send` does.")
@global_options
@pass_ctx
def alerts_send(obj: Ctx, dry_run: bool, _now: bool) -> None:
    """Deliver every pending alert now, failed ones included.

    `crawl` and the daemon retry a failed alert after a growing delay; this
    does not wait for it (the mail server is back: send now). Daily and
    per-round digests still wait for their time. Exits 1 when some alert
    could not be delivered (it stays queued).

    \b
    Examples:
      wpwatch alerts send --dry-run     # every pending alert: would send / waiting, and why
      wpwatch alerts send
    """
    from alerts.service import deliver_due

    report = deliver_due(obj.archive, obj.config(must_exist=True), dry_run=dry_run,
                         ignore_backoff=True)
    for line in report.would_send:
        click.echo(f"would send {line}")
    for line in report.waiting:
        click.echo(f"waiting: {line}")
    if dry_run and not report.would_send and not report.waiting:
        click.echo("no alerts pending")
    for line in report.failed:
        click.echo(f"wpwatch: not delivered: {line}", err=True)
    if not dry_run:
        click.echo(f"sent {report.sent} message(s) for {report.alerts_sent} alert(s); "
                   f"{len(report.failed)} failed")
    if report.failed:
        raise SystemExit(1)
