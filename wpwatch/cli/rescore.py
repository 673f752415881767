"""`wpwatch rescore`: stored changes scored again under the ignore rules of today."""

from __future__ import annotations

import json

import click

from core.values import since_to_iso
from diffs.ignore import IgnoreRules
from wpwatch.cli._common import Ctx, global_options, json_option, one_line, pass_ctx


@click.command()
@click.option("--site", help="Only this site (URL or name).")
@click.option("--since", help='Only changes detected since: "7d", "12h", "1w" or a date.')
@json_option("Print a JSON object: how many changes were looked at, and those that moved.")
@global_options
@pass_ctx
def rescore(obj: Ctx, site: str | None, since: str | None, as_json: bool) -> None:
    """Score stored changes again under the ignore rules in the config file.

    Each change is compared again from the raw answers the archive kept, under the
    site's current `ignore` rules on both sides; what moved is printed (noise → change,
    change → noise). Only the changes' verdicts are rewritten: versions, raw answers
    and the evidence chain stay as they are (`wpwatch verify` still passes). Changes of
    sites no longer in the config file are left alone.

    \b
    Examples:
      wpwatch rescore
      wpwatch rescore --site iuhrdf --since 30d --json
    """
    conf = obj.config()
    rules = {
        s.url: IgnoreRules.from_table(s.ignore, f"{conf.path}: [sites.ignore] of {s.name}")
        for s in conf.sites
    }
    site_url = obj.site_url(site) if site else None
    looked, moved = obj.archive.rescore(rules.get, site=site_url, since=since_to_iso(since))
    if as_json:
        click.echo(json.dumps(
            {"rescored": looked, "moved": [m.__dict__ for m in moved]},
            indent=2, ensure_ascii=False,
        ))  # fmt: skip
        return
    for m in moved:
        why = f" by {'; '.join(m.noise_rules)}" if m.noise_rules else ""
        fields = f" [{', '.join(m.fields)}]" if m.fields else ""
        click.echo(
            f"#{m.change_id}  {m.before} → {m.after}{why}  {m.type}/{m.wp_id}  "
            f"{one_line(m.title or '(no title)', 60)}{fields}"
        )
    to_noise = sum(1 for m in moved if m.after == "noise")
    click.echo(
        f"rescored {looked} change(s): {to_noise} became noise, "
        f"{len(moved) - to_noise} became changes again"
    )
