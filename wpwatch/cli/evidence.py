"""Evidence commands: `wpwatch verify`, `wpwatch export`, `wpwatch timestamp`.

Thin functions over archive/verify.py, archive/export.py, archive/wacz.py,
archive/package_verify.py and archive/tsa.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archive.export import FORMATS, export_site
from archive.verify import SiteReport, verify_archive
from core.exceptions import ConfigError
from core.values import resolve_env, since_to_iso
from wpwatch.cli._common import Ctx, global_options, json_option, pass_ctx

if TYPE_CHECKING:
    from archive.package_verify import PackageReport

EXPORT_FORMATS = (*FORMATS, "wacz")

SHOWN_PROBLEMS = 20


@click.command()
@click.option("--site", help="Only this site (URL or name).")
@click.option(
    "--package",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check a WACZ package made by `wpwatch export --format wacz` instead of the "
    "archive: every file hash, the datapackage digest and the timestamp token, offline.",
)
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
def verify(
    obj: Ctx, site: str | None, package: Path | None, tsa_ca: Path | None, as_json: bool
) -> None:
    """Recompute every raw-byte SHA-256 and each site's hash chain.

    Reports, per site, the first broken link and what is wrong (changed bytes,
    a removed or reordered record, a record added afterwards, a timestamp that
    no longer matches). Exits 0 when the archive is intact, 1 when it is not.

    With --package, checks a WACZ file instead and prints one line per problem.

    \b
    Examples:
      wpwatch verify
      wpwatch verify --site iuhrdf --tsa-ca tsa-root.pem
      wpwatch verify --package iuhrdf.wacz --tsa-ca tsa-root.pem
    """
    from archive.tsa import load_roots

    roots = load_roots(tsa_ca.read_bytes()) if tsa_ca else None
    if package is not None:
        if site:
            raise ConfigError("--site and --package exclude each other: a package is checked "
                              "whole")
        _verify_package(package, roots, as_json)
        return
    site_ids = [obj.site_row(site)["id"]] if site else None
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


def _verify_package(package: Path, roots: Any, as_json: bool) -> None:
    from archive.package_verify import verify_package

    report = verify_package(package, tsa_roots=roots)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(_package_text(report))
    if not report.ok:
        sys.exit(1)


def _package_text(r: PackageReport) -> str:
    if not r.ok:
        lines = [f"{r.path}: {p}" for p in r.problems]
        lines.append(f"verify: package {r.path} BROKEN: {len(r.problems)} problem(s)")
        return "\n".join(lines)
    stamp = "no timestamp token"
    if r.timestamp:
        checked = "signature checked" if r.signature_checked else (
            "signature not checked: pass --tsa-ca")
        stamp = f"timestamp token of {r.timestamp} matches ({checked})"
    return (f"verify: package {r.path} intact: {r.files} files match datapackage.json, "
            f"its digest matches, {stamp}")


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
@click.option("--site", help="The site to export (URL or name); wacz: default every site.")
@click.option("--since", help='Only versions fetched and changes detected since: "7d" or a date.')
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="warc (WARC 1.1; gzipped per record when --out ends in .gz), jsonl, or wacz (a "
    "package for ReplayWeb.page and other web-archive tools). Default: from the --out name.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write.")
@click.option("--tsa", "tsa_url", envvar="WPWATCH_TSA_URL",
              help="wacz: an RFC 3161 timestamp authority to stamp the package digest "
              "(env WPWATCH_TSA_URL; default: [defaults] tsa_url of the config).")
@global_options
@pass_ctx
def export(
    obj: Ctx, site: str | None, since: str | None, fmt: str | None, out: Path,
    tsa_url: str | None,
) -> None:
    """Export versions and changes as WARC, JSON lines or a WACZ package.

    WARC: a request and a response record (original status, headers and raw
    bytes, WARC-Date = fetch time, SHA-256 digests) for every stored response,
    and a metadata record per version and per change with its chain hashes;
    readable by warcio and pywb. JSON lines: one object per version and per
    change, with hashes. WACZ: the WARC of each site, a record per post
    version at the post's API URL (cut byte for byte from the listing it was
    read in), the CDXJ index, pages/pages.jsonl (one page per post) and the
    hashed datapackage; with a timestamp authority, an RFC 3161 token over the
    datapackage digest. Check it with `wpwatch verify --package FILE`; open it
    in ReplayWeb.page. Progress goes to stderr.

    \b
    Examples:
      wpwatch export --site iuhrdf --format warc --out iuhrdf.warc.gz
      wpwatch export --site https://example.org --since 30d --out changes.jsonl
      wpwatch export --format wacz --out evidence.wacz --since 2024-01-01
    """
    fmt = fmt or _format_from_name(out)
    iso_since = since_to_iso(since)
    if fmt == "wacz":
        _export_wacz(obj, site, iso_since, out, tsa_url)
        return
    if site is None:
        raise ConfigError(f"--format {fmt} exports one site: add --site NAME_OR_URL "
                          "(--format wacz packages several)")
    row = obj.site_row(site)
    summary = export_site(obj.archive, row["url"], out, fmt=fmt, since=iso_since)
    click.echo(f"exported {summary.versions} versions and {summary.changes} changes"
               + (f" ({summary.responses} responses)" if fmt == "warc" else "")
               + f" of {row['url']} to {out}")


def _format_from_name(out: Path) -> str:
    name = out.name.lower()
    if name.endswith(".wacz"):
        return "wacz"
    if ".warc" in name:
        return "warc"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise ConfigError(f"cannot tell the format from {out.name!r}: add --format warc, jsonl "
                      "or wacz")


def _export_wacz(
    obj: Ctx, site: str | None, since: str | None, out: Path, tsa_url: str | None
) -> None:
    from archive.wacz import build_wacz

    if tsa_url is None:
        configured = obj.config().defaults.get("tsa_url")
        tsa_url = str(resolve_env(configured, "defaults.tsa_url")) if configured else None
    site_urls = [obj.site_row(site)["url"]] if site else None
    summary = build_wacz(obj.archive, out, site_urls=site_urls, since=since, tsa_url=tsa_url)
    stamp = f", timestamped at {summary.timestamp}" if summary.timestamp else ""
    click.echo(f"packaged {summary.versions} versions and {summary.changes} changes "
               f"({summary.responses} responses, {summary.post_records} post records, "
               f"{summary.pages} pages) of {len(summary.sites)} site(s) into {out}{stamp}")


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
