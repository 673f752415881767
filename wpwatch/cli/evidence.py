"""Evidence commands: `wpwatch verify`, `wpwatch export`, `wpwatch timestamp`.

Thin functions over archive/verify.py, archive/export.py and archive/tsa.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive.export import FORMATS, export_site
from archive.verify import SiteReport, verify_archive
from core.exceptions import ConfigError
from core.values import since_to_iso
from wpwatch.cli._common import Ctx, global_options, json_option, pass_ctx

SHOWN_PROBLEMS = 20


@click.command()
@click.option("--site", help="Only this site (URL or name).")
@click.option(
    "--tsa-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="WPWATCH_TSA_CA",
    help="PEM root certificate(s) of the timestamp authority, to check token signatures "
    "(env WPWATCH_TSA_CA).",
)
@json_option("Print one JSON object per site.")
@global_options
@pass_ctx
def verify(obj: Ctx, site: str | None, tsa_ca: Path | None, as_json: bool) -> None:
    """Recompute every raw-byte SHA-256 and each site's hash chain.

    Reports, per site, the first broken link and what is wrong (changed bytes,
    a removed or reordered record, a record added afterwards, a timestamp that
    no longer matches). Exits 0 when the archive is intact, 1 when it is not.

    \b
    Example:
      wpwatch verify
      wpwatch verify --site iuhrdf --tsa-ca tsa-root.pem
    """
    from archive.tsa import load_roots

    site_ids = [obj.site_row(site)["id"]] if site else None
    roots = load_roots(tsa_ca.read_bytes()) if tsa_ca else None
    reports = verify_archive(obj.archive, site_ids=site_ids, tsa_roots=roots)
    broken = [r for r in reports if not r.ok]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2, ensure_ascii=False))
    else:
        for r in reports:
            click.echo(_report_text(r))
        if not reports:
            click.echo("verify: the archive holds no sites yet")
        elif broken:
            click.echo(f"verify: {len(broken)} of {len(reports)} site(s) BROKEN: the archive was "
                       "changed after it was written")
        else:
            click.echo(f"verify: {len(reports)} site(s), archive intact")
    if broken:
        sys.exit(1)


def _report_text(r: SiteReport) -> str:
    name = f"{r.name}  {r.url}" if r.name and r.name != r.url else r.url
    if r.ok:
        head = f"head #{r.head[0]} {r.head[1][:16]}…" if r.head else "empty chain"
        stamps = ""
        if r.stamps:
            checked = "signatures checked" if r.stamps_signature_checked else (
                "signatures not checked: pass --tsa-ca")
            stamps = f"; {r.stamps} timestamp(s) match ({checked})"
        return (f"{name}: intact: {r.links} links ({r.versions} versions, {r.changes} changes), "
                f"{r.responses} responses re-hashed, {head}{stamps}")
    first = r.first_broken
    assert first is not None
    where = f"at link #{first.seq} of {r.links}" if first.seq is not None else "outside the chain"
    lines = [f"{name}: BROKEN {where}"]
    lines += [f"  {p}" for p in r.problems[:SHOWN_PROBLEMS]]
    if len(r.problems) > SHOWN_PROBLEMS:
        lines.append(f"  … and {len(r.problems) - SHOWN_PROBLEMS} more (see --json)")
    return "\n".join(lines)


@click.command()
@click.option("--site", required=True, help="The site to export (URL or name).")
@click.option("--since", help='Only versions fetched and changes detected since: "7d" or a date.')
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="warc (WARC 1.1; gzipped per record when --out ends in .gz) or jsonl. "
    "Default: from the --out name.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write.")
@global_options
@pass_ctx
def export(obj: Ctx, site: str, since: str | None, fmt: str | None, out: Path) -> None:
    """Export a site's versions and changes as WARC or JSON lines.

    WARC: a request and a response record (original status, headers and raw
    bytes, WARC-Date = fetch time, SHA-256 digests) for every stored response,
    and a metadata record per version and per change with its chain hashes;
    readable by warcio and pywb. JSON lines: one object per version and per
    change, with hashes.

    \b
    Examples:
      wpwatch export --site iuhrdf --format warc --out iuhrdf.warc.gz
      wpwatch export --site https://example.org --since 30d --out changes.jsonl
    """
    if fmt is None:
        name = out.name.lower()
        if ".warc" in name:
            fmt = "warc"
        elif name.endswith((".jsonl", ".ndjson")):
            fmt = "jsonl"
        else:
            raise ConfigError(
                f"cannot tell the format from {out.name!r}: add --format warc or --format jsonl"
            )
    row = obj.site_row(site)
    summary = export_site(obj.archive, row["url"], out, fmt=fmt, since=since_to_iso(since))
    click.echo(f"exported {summary.versions} versions and {summary.changes} changes"
               + (f" ({summary.responses} responses)" if fmt == "warc" else "")
               + f" of {row['url']} to {out}")


@click.command()
@click.option("--tsa", "tsa_url", envvar="WPWATCH_TSA_URL", required=True,
              help="URL of an RFC 3161 timestamp authority (env WPWATCH_TSA_URL).")
@click.option("--site", help="Only this site (URL or name).")
@global_options
@pass_ctx
def timestamp(obj: Ctx, tsa_url: str, site: str | None) -> None:
    """Get an RFC 3161 timestamp of each site's chain head from a timestamp authority.

    A head commits to every record before it, so a token proves the archive of
    that site, up to the head, existed at the authority's time; `verify` checks
    the tokens. Heads that already have a token are skipped.

    \b
    Example:
      wpwatch timestamp --tsa https://freetsa.org/tsr
    """
    from archive.tsa import stamp_heads

    site_ids = [obj.site_row(site)["id"]] if site else None
    stamps = stamp_heads(obj.archive, tsa_url, site_ids=site_ids)
    for st in stamps:
        click.echo(f"{st.site}: head #{st.seq} {st.chain_hash[:16]}… timestamped at {st.gen_time}")
    if not stamps:
        click.echo("nothing new to timestamp: every chain head already has a token")
