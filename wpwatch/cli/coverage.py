"""`wpwatch coverage`: per site, when every round succeeded, and the gaps."""

from __future__ import annotations

import json
from typing import Any

import click

from core.values import since_to_iso
from wpwatch.cli._common import Ctx, global_options, json_option, pass_ctx

# Two successful rounds further apart than this many intervals (plus the round's budget)
# are a gap: the watcher was not running.
SILENCE_INTERVALS = 2


@click.command()
@click.argument("site", required=False)
@click.option("--since", metavar="WHEN", help='Only rounds since then: "7d", "2026-11-01".')
@json_option("Print JSON, one object per site.")
@global_options
@pass_ctx
def coverage(obj: Ctx, site: str | None, since: str | None, as_json: bool) -> None:
    """Per site: the intervals during which every round succeeded, and the gaps
    between them (from, to, why).

    A round covers its site only when it read everything (outcome ok); rounds
    that failed, were degraded (REST API closed), ended with errors or were
    interrupted are gaps, and so is a silence longer than two intervals of a
    configured site (no round ran). SITE (a URL or name) shows that site alone.

    \b
    Examples:
      wpwatch coverage
      wpwatch coverage iuhrdf --json --since 30d
    """
    from archive.coverage import report

    conf = obj.config()
    if site:
        url = obj.site_url(site)
        sc = conf.site(url)
        wanted = [(url, sc.name if sc else url, _silence(sc))]
    else:
        wanted = [(s.url, s.name, _silence(s)) for s in conf.sites]
        known = {s.url for s in conf.sites}
        wanted += [(row["url"], row["name"] or row["url"], None)
                   for row in obj.archive.list_sites() if row["url"] not in known]
    records = report(obj.archive, wanted, since_to_iso(since))
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo("no rounds yet: `wpwatch crawl URL`")
    for record in records:
        click.echo(_text(record))


def _silence(site: Any) -> float | None:
    return SILENCE_INTERVALS * site.interval + site.budget if site is not None else None


def _when(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") + "Z" if stamp else "now"


def _text(r: dict[str, Any]) -> str:
    lines = [f"{r['name']} ({r['site']}): {r['rounds']} round(s), "
             f"{len(r['covered'])} covered interval(s), {len(r['gaps'])} gap(s)"]
    events = [(c["from"], f"  covered {_when(c['from'])} → {_when(c['to'])}  "
                          f"({c['rounds']} round(s) {c['from_round']}–{c['to_round']})")
              for c in r["covered"]]
    for g in r["gaps"]:
        to = _when(g["to"]) if g["to"] else f"ongoing (last looked {_when(g['until'])})"
        events.append((g["from"], f"  GAP     {_when(g['from'])} → {to}  {g['why']}"))
    return "\n".join(lines + [text for _, text in sorted(events, key=lambda e: e[0] or "")])
