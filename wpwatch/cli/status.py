"""`wpwatch status`: per site, the last round, the next one and what is waiting."""

from __future__ import annotations

import json
from typing import Any

import click

from wpwatch.cli._common import Ctx, global_options, json_option, pass_ctx
from wpwatch.status import DEGRADED_AFTER_ERRORS, site_statuses
from wpwatch.summary import summary_line


@click.command()
@click.argument("site", required=False)
@json_option("Print JSON, one object per site.")
@global_options
@pass_ctx
def status(obj: Ctx, site: str | None, as_json: bool) -> None:
    """Per site: the last round (when, how long, requests, changes, errors).

    Lists every configured site, and every other site in the archive that
    wpwatch ever reached (a one-off `wpwatch crawl` of a URL that never
    answered is not listed; `wpwatch sites forget` deletes a site's history).
    SITE (a URL or name) shows that site alone.

    \b
    Examples:
      wpwatch status
      wpwatch status iuhrdf --json
    """
    only = obj.site_url(site) if site else None
    records = site_statuses(obj.archive, obj.config(), only=only)
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo("no sites yet: `wpwatch sites add URL` or `wpwatch crawl URL`")
    for record in records:
        click.echo(_text(record))


def _text(s: dict[str, Any]) -> str:
    r = s["last_round"]
    if r is None:
        return f"{s['name']}: never crawled"
    line = summary_line(s["name"], {**r, "counts": r["changes"], "started_at": r["started"],
                                    "finished_at": r["finished"]})
    line += f"  (last round {r['started'][:19]}Z)"
    notes = []
    if r["outcome"] == "failed" and r["error"]:
        notes.append(f"failed: {r['error']}")
    if s["degraded"]:
        notes.append(f"DEGRADED ({s['errors_in_a_row']} failed rounds in a row)"
                     if s["errors_in_a_row"] >= DEGRADED_AFTER_ERRORS
                     else "DEGRADED (REST API closed)")
    if s["next_due"]:
        notes.append(f"next round {s['next_due'][:19]}Z")
    if s["pending_alerts"]:
        notes.append(f"{s['pending_alerts']} alert(s) pending: `wpwatch alerts pending`")
    for route, failing in s["alert_errors"].items():
        notes.append(f"{route}: {failing['pending']} pending, failing: {failing['error']}")
    return line + ("\n  " + "; ".join(notes) if notes else "")
