"""`wpwatch status`: per site, the last round, the next one and what is waiting."""

from __future__ import annotations

import json
from typing import Any

import click

from archive.opening import is_postgres
from core.exceptions import ArchiveError
from wpwatch.cli._common import Ctx, global_options, json_option, pass_ctx
from wpwatch.status import DEGRADED_AFTER_ERRORS, site_statuses
from wpwatch.summary import summary_line


@click.command()
@click.argument("site", required=False)
@json_option("Print JSON, one object per site (with --cluster: one object).")
@click.option("--cluster", "cluster", is_flag=True,
              help="Several nodes on a PostgreSQL archive: the nodes, rounds running, due "
                   "and overdue, start delays, stalled rounds given back.")
@global_options
@pass_ctx
def status(obj: Ctx, site: str | None, as_json: bool, cluster: bool) -> None:
    """Per site: the last round (when, how long, requests, changes, errors).

    Lists every configured site, and every other site in the archive that
    wpwatch ever reached (a one-off `wpwatch crawl` of a URL that never
    answered is not listed; `wpwatch sites forget` deletes a site's history).
    SITE (a URL or name) shows that site alone.

    \b
    Examples:
      wpwatch status
      wpwatch status iuhrdf --json
      wpwatch --db postgresql://wpwatch@db.example/wpwatch status --cluster
    """
    if cluster:
        _cluster(obj, as_json)
        return
    only = obj.site_url(site) if site else None
    records = site_statuses(obj.archive, obj.config(), only=only)
    if is_postgres(obj.db):  # several nodes may share it: where each site's round is
        from wpwatch.cluster import site_jobs

        jobs = site_jobs(obj.archive)
        for record in records:
            record["round_running"] = record["url"] in jobs["doing"]
            record["round_queued"] = record["url"] in jobs["todo"]
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo("no sites yet: `wpwatch sites add URL` or `wpwatch crawl URL`")
    for record in records:
        click.echo(_text(record))


def _cluster(obj: Ctx, as_json: bool) -> None:
    from datetime import UTC, datetime

    if not is_postgres(obj.db):
        raise ArchiveError("--cluster shows the nodes sharing a PostgreSQL archive; this "
                         "archive is SQLite (one `wpwatch run`): use `wpwatch status`")
    from wpwatch.cluster import cluster_view

    view = cluster_view(obj.archive, datetime.now(UTC))
    if as_json:
        click.echo(json.dumps(view, indent=2))
        return
    r, d = view["rounds"], view["start_delay"]
    click.echo(f"{view['nodes_alive']} node(s) alive; rounds: {r['running']} running, "
               f"{r['queued']} queued, {r['due']} due, {r['overdue']} overdue; "
               f"{view['stalled_recovered']} stalled round(s) given back")
    if d["rounds"]:
        click.echo(f"start delay over the last hour ({d['rounds']} rounds): median "
                   f"{d['median_s']:.1f} s, p95 {d['p95_s']:.1f} s")
    for n in view["nodes"]:
        role = "dispatcher, " if n["dispatcher"] else ""
        state = "alive" if n["alive"] else "gone"
        click.echo(f"  {n['name']}: {state} ({role}last heartbeat {n['last_heartbeat'][:19]}Z)"
                   f", {n['rounds_running']} running, {n['rounds_run']} run since "
                   f"{n['started'][:19]}Z")


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
    if s.get("round_running"):
        notes.append("a round is running")
    elif s.get("round_queued"):
        notes.append("a round is queued")
    if s["next_due"]:
        notes.append(f"next round {s['next_due'][:19]}Z")
    if s["pending_alerts"]:
        notes.append(f"{s['pending_alerts']} alert(s) pending: `wpwatch alerts pending`")
    for route, failing in s["alert_errors"].items():
        notes.append(f"{route}: {failing['pending']} pending, failing: {failing['error']}")
    return line + ("\n  " + "; ".join(notes) if notes else "")
