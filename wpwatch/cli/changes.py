"""`wpwatch changes` and `wpwatch history`: what the archive found, as lists."""

from __future__ import annotations

import json

import click

from wpwatch.cli._common import Ctx, global_options, json_option, one_line, pass_ctx
from wpwatch.exceptions import ConfigError
from wpwatch.values import KINDS, normalize_site_url, since_to_iso


@click.command()
@json_option("Print a JSON array (the stable contract).")
@click.option("--since", help='Only changes detected since: "7d", "12h" or a date.')
@click.option("--site", help="Only this site (URL or name).")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of change.")
@global_options
@pass_ctx
def changes(obj: Ctx, as_json: bool, since: str | None, site: str | None, kind: str | None) -> None:
    """List detected changes, oldest first.

    \b
    Example:
      wpwatch changes --since 7d --kind deleted --json
    """
    if site and "://" in site:
        site = normalize_site_url(site)
    rows = obj.archive.changes(since=since_to_iso(since), site=site, kind=kind)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no changes")
    for r in rows:
        fields = f" [{', '.join(r['fields'])}]" if r["fields"] else ""
        title = one_line(r["title"] or "(no title)")
        click.echo(
            f"#{r['id']}  {r['detected_at'][:19]}Z  {r['kind']:<11} {r['site_name'] or r['site']}  "
            f"{r['type']}/{r['wp_id']}  {title}{fields}"
        )


@click.command()
@click.argument("site_url")
@click.argument("type_")
@click.argument("wp_id", type=int)
@json_option()
@global_options
@pass_ctx
def history(obj: Ctx, site_url: str, type_: str, wp_id: int, as_json: bool) -> None:
    """Every stored version of one post, with hashes, and its changes.

    \b
    Example:
      wpwatch history https://example.org posts 4546
    """
    conf = obj.config()
    site = conf.site(site_url)
    url = site.url if site else normalize_site_url(site_url)
    h = obj.archive.history(url, type_, wp_id)
    if h is None:
        raise ConfigError(f"no post {type_}/{wp_id} of {url} in the archive")
    if as_json:
        click.echo(json.dumps(h, indent=2, ensure_ascii=False, default=str))
        return
    post = h["post"]
    click.echo(f"{url} {type_}/{wp_id}: {post['state']}, {one_line(post['title'] or '')}")
    click.echo(f"  {post['link']}")
    from archive.revisions import revisions_between

    prev_count = None
    for v in h["versions"]:
        revs = f", {v['revision_count']} revisions" if v["revision_count"] is not None else ""
        hidden = revisions_between(prev_count, v["revision_count"])
        if hidden:
            revs += f" ({hidden})"
        prev_count = v["revision_count"]
        click.echo(
            f"  version {v['id']}  fetched {v['fetched_at']}  modified_gmt {v['modified_gmt']}{revs}\n"
            f"    content {v['content_hash'][:16]}  raw sha256 {v['sha256']}  HTTP {v['status']}\n"
            f"    from {v['url']}"
        )
    for c in h["changes"]:
        fields = f" [{', '.join(c['fields'])}]" if c["fields"] else ""
        click.echo(f"  change #{c['id']} {c['kind']} at {c['detected_at']}{fields}")
