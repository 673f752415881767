"""`wpwatch changes` and `wpwatch history`: what the archive found, as lists."""

from __future__ import annotations

import json

import click

from core.exceptions import ConfigError
from core.values import KINDS, since_to_iso
from wpwatch.cli._common import Ctx, global_options, json_option, one_line, pass_ctx


@click.command()
@json_option("Print a JSON array (the stable contract).")
@click.option("--since", help='Only changes detected since: "7d", "12h", "1w" or a date.')
@click.option("--site", help="Only this site (URL or name).")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of change.")
@click.option("--all", "show_all", is_flag=True,
              help="Also the changes the site's ignore rules score as noise.")
@global_options
@pass_ctx
def changes(
    obj: Ctx, as_json: bool, since: str | None, site: str | None, kind: str | None,
    show_all: bool,
) -> None:
    """List detected changes, oldest first.

    Changes whose every changed field the site's `ignore` rules set aside are noise:
    kept in the archive, listed only with --all (marked "noise", with the rules).

    \b
    Examples:
      wpwatch changes --since 7d --kind deleted --json
      wpwatch changes --site iuhrdf --since 1w
      wpwatch changes --all --json
    """
    site_url = obj.site_url(site) if site else None
    rows = obj.archive.changes(
        since=since_to_iso(since), site=site_url, kind=kind, with_noise=show_all
    )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no changes")
    for r in rows:
        fields = f" [{', '.join(r['fields'])}]" if r["fields"] else ""
        if r["verdict"] == "noise":
            fields += f" noise: {'; '.join(r['noise_rules'])}"
        title = one_line(r["title"] or "(no title)")
        click.echo(
            f"#{r['id']}  {r['detected_at'][:19]}Z  {r['kind']:<11} {r['site_name'] or r['site']}  "
            f"{r['type']}/{r['wp_id']}  {title}{fields}"
        )


@click.command()
@click.argument("site", metavar="SITE")
@click.argument("type_", metavar="TYPE")
@click.argument("wp_id", metavar="WP_ID", type=int)
@json_option()
@global_options
@pass_ctx
def history(obj: Ctx, site: str, type_: str, wp_id: int, as_json: bool) -> None:
    """Every stored version of one post, with hashes, and its changes.

    SITE is a site's URL or name, TYPE a REST base (posts, pages, …) and WP_ID
    the post's id on the site (as `wpwatch changes` lists them: TYPE/WP_ID).

    \b
    Examples:
      wpwatch history https://example.org posts 4546
      wpwatch history iuhrdf pages 12 --json
    """
    url = obj.site_url(site)
    h = obj.archive.history(url, type_, wp_id)
    if h is None:
        raise ConfigError(
            f"no post {type_}/{wp_id} of {url} in the archive: `wpwatch changes --site {site}` "
            "lists its posts as TYPE/WP_ID"
        )
    if as_json:
        click.echo(json.dumps(h, indent=2, ensure_ascii=False, default=str))
        return
    post = h["post"]
    click.echo(f"{url} {type_}/{wp_id}: {post['state']}, {one_line(post['title'] or '')}")
    click.echo(f"  {post['link']}")
    from archive.revisions import revisions_between
    from diffs.revisions import group_by_poll, revision_line, saved_between

    prev_count = None
    for saved, v in group_by_poll(h["versions"]):
        if saved:
            revisions = [r["revision"] for r in saved]
            click.echo(f"  {saved_between(revisions)}:")
            for r in sorted(saved, key=lambda r: r["revision"]["saved_gmt"]):
                click.echo(f"    {revision_line(r['revision'])}  (version {r['id']}, content "
                           f"{r['content_hash'][:16]}, raw sha256 {r['sha256']})")
        if v is None:
            continue
        revs = f", {v['revision_count']} revisions" if v["revision_count"] is not None else ""
        hidden = revisions_between(prev_count, v["revision_count"])
        if hidden:
            revs += f" ({hidden})"
        prev_count = v["revision_count"]
        status = ""
        if v.get("wp_status"):
            status = f", {v['wp_status']}" + ("" if v.get("public") else " (not public)")
        click.echo(
            f"  version {v['id']}  fetched {v['fetched_at']}"
            f"  modified_gmt {v['modified_gmt']}{revs}{status}\n"
            f"    content {v['content_hash'][:16]}  raw sha256 {v['sha256']}  HTTP {v['status']}\n"
            f"    from {v['url']}"
        )
    for c in h["changes"]:
        fields = f" [{', '.join(c['fields'])}]" if c["fields"] else ""
        if c["verdict"] == "noise":
            fields += f" noise: {'; '.join(c['noise_rules'])}"
        click.echo(f"  change #{c['id']} {c['kind']} at {c['detected_at']}{fields}")
