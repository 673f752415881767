"""The `wpwatch` command: thin functions over the archive, the crawler and the config."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from archive import Archive, ArchiveError
from wpwatch import __version__
from wpwatch import config as cfg
from wpwatch.exceptions import WPWatchError
from wpwatch.summary import summary_line
from wpwatch.values import KINDS, normalize_site_url, since_to_iso


class UserError(click.ClickException):
    """A WPWatchError at the CLI boundary: one line on stderr, exit 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"wpwatch: {self.message}", err=True)


class Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (WPWatchError, ArchiveError) as exc:
            raise UserError(str(exc)) from None


class Ctx:
    def __init__(self, db: str, config: Path, verbose: bool) -> None:
        self.db = db
        self.config_path = config
        self.verbose = verbose
        self._archive: Archive | None = None

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            self._archive = Archive(self.db)
        return self._archive

    def config(self, must_exist: bool = False) -> cfg.Config:
        return cfg.load(self.config_path, must_exist=must_exist)


pass_ctx = click.make_pass_decorator(Ctx)


def fail(message: str, code: int = 2) -> None:
    click.echo(f"wpwatch: {message}", err=True)
    sys.exit(code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="WPWATCH_DB",
    default="wpwatch.db",
    show_default=True,
    help="Archive: an SQLite path or an SQLAlchemy URL (env WPWATCH_DB).",
)
@click.option(
    "--config",
    "config_path",
    envvar="WPWATCH_CONFIG",
    default="wpwatch.toml",
    show_default=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sites and alerts file (env WPWATCH_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's own log too.")
@click.version_option(__version__, prog_name="wpwatch")
@click.pass_context
def cli(ctx: click.Context, db: str, config_path: Path, verbose: bool) -> None:
    """Watch WordPress sites through their REST API; keep every version of every post.

    \b
    Example:
      wpwatch crawl https://example.org      # first round: a baseline
      wpwatch crawl https://example.org      # later rounds: what changed
      wpwatch changes --since 7d
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("wpwatch.progress").setLevel(logging.INFO)
    ctx.obj = Ctx(db, config_path, verbose)


def main() -> None:
    cli.main(prog_name="wpwatch")


# -- crawl --------------------------------------------------------------------------
@cli.command()
@click.argument("site_urls", nargs=-1)
@click.option("--full", is_flag=True, help="Re-read every post instead of the incremental listing.")
@click.option("--concurrency", default=8, show_default=True, help="Sites crawled at once.")
@click.option("--no-alerts", is_flag=True, help="Queue no alerts for what this round finds.")
@pass_ctx
def crawl(
    obj: Ctx, site_urls: tuple[str, ...], full: bool, concurrency: int, no_alerts: bool
) -> None:
    """Run one polling round for SITE_URLS (or every site in the config).

    Prints one line per site: requests made and changes found. Exits 1 when
    a site could not be watched (unreachable, not WordPress, REST closed).

    \b
    Examples:
      wpwatch crawl https://example.org https://example.net/en
      wpwatch crawl --full                # every configured site, every post
    """
    from crawler.runner import SiteSpec, run_rounds, run_sync

    specs: list[SiteSpec] = []
    if site_urls:
        conf = obj.config()
        for raw in site_urls:
            site = conf.site(raw)
            if site is not None:
                specs.append(site.spec())
                continue
            try:
                specs.append(SiteSpec(url=normalize_site_url(raw)))
            except ValueError as exc:
                fail(f"bad site URL {raw!r}: {exc}")
    else:
        conf = obj.config(must_exist=True)
        if not conf.sites:
            fail(f"no sites in {conf.path}: add one with `wpwatch sites add URL`")
        specs = [s.spec() for s in conf.sites]

    archive = obj.archive
    archive.mark_stale_rounds_interrupted()
    alerting = bool(conf.alerts) and not no_alerts
    if alerting:
        from alerts.service import install_outbox

        install_outbox(archive, conf)
    started = time.monotonic()

    def report(spec: SiteSpec, rnd: dict[str, Any]) -> None:
        click.echo(summary_line(spec.name or rnd["site"], rnd))

    results = run_sync(
        lambda: run_rounds(archive, specs, full=full, concurrency=concurrency, on_done=report),
        verbose=obj.verbose,
    )
    # A degraded site (REST API closed, watched through its feed) is still an error
    # a user can act on: exit non-zero with the reason, as for a failed one.
    failed = [r for r in results if r["outcome"] in ("failed", "degraded")]
    for r in failed:
        click.echo(f"wpwatch: {r['site']}: {r['error']}", err=True)
    if len(specs) > 1:
        click.echo(f"{len(specs)} sites in {time.monotonic() - started:.1f} s, {len(failed)} failed")
    if alerting:
        from alerts.service import deliver_due

        sent = deliver_due(archive, conf)
        if sent.sent or sent.failed:
            click.echo(f"alerts: {sent.sent} message(s) sent, {len(sent.failed)} failed "
                       f"(queued for retry: `wpwatch alerts pending`)")
    if failed:
        sys.exit(1)


# -- sites --------------------------------------------------------------------------
@cli.group(cls=Group)
def sites() -> None:
    """Manage the sites in wpwatch.toml.

    \b
    Example:
      wpwatch sites add https://iuhrdf.org/en --name iuhrdf --interval 10m
    """


@sites.command("add")
@click.argument("url")
@click.option("--name", help="Short name (default: the host and path).")
@click.option("--interval", help='Polling interval, e.g. "10m" (default from [defaults]).')
@click.option("--types", help="Comma-separated REST bases to watch (default: all public types).")
@pass_ctx
def sites_add(obj: Ctx, url: str, name: str | None, interval: str | None, types: str | None) -> None:
    """Add a site to the config file."""
    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    site = cfg.add_site(obj.config_path, url, name=name, interval=interval, types=type_list)
    click.echo(f"added {site.name} ({site.url}) to {obj.config_path}")


@sites.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def sites_list(obj: Ctx, as_json: bool) -> None:
    """List the configured sites."""
    conf = obj.config()
    rows = [
        {"name": s.name, "url": s.url, "interval": s.interval, "types": list(s.types)}
        for s in conf.sites
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no sites in {conf.path}")
    for r in rows:
        types = ",".join(r["types"]) or "all types"
        click.echo(f"{r['name']}\t{r['url']}\tevery {_human(r['interval'])}\t{types}")


@sites.command("remove")
@click.argument("name_or_url")
@pass_ctx
def sites_remove(obj: Ctx, name_or_url: str) -> None:
    """Remove a site from the config file (its archive is kept)."""
    site = cfg.remove_site(obj.config_path, name_or_url)
    click.echo(f"removed {site.name} ({site.url}) from {obj.config_path}; its archive is kept")


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


# -- changes, history, status ---------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (the stable contract).")
@click.option("--since", help='Only changes detected since: "7d", "12h" or a date.')
@click.option("--site", help="Only this site (URL or name).")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of change.")
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
        title = _one_line(r["title"] or "(no title)")
        click.echo(
            f"#{r['id']}  {r['detected_at'][:19]}Z  {r['kind']:<11} {r['site_name'] or r['site']}  "
            f"{r['type']}/{r['wp_id']}  {title}{fields}"
        )


def _one_line(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command()
@click.argument("site_url")
@click.argument("type_")
@click.argument("wp_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        fail(f"no post {type_}/{wp_id} of {url} in the archive")
    assert h is not None
    if as_json:
        click.echo(json.dumps(h, indent=2, ensure_ascii=False, default=str))
        return
    post = h["post"]
    click.echo(f"{url} {type_}/{wp_id}: {post['state']}, {_one_line(post['title'] or '')}")
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per site.")
@pass_ctx
def status(obj: Ctx, as_json: bool) -> None:
    """Per site: the last round (when, how long, requests, changes, errors).

    \b
    Example:
      wpwatch status --json
    """
    archive = obj.archive
    conf = obj.config()
    last = archive.last_rounds()
    schedule = archive.schedules()
    from alerts.deliver import pending_counts

    pending = pending_counts(archive)
    known = {s["url"]: s for s in archive.list_sites()}
    urls = [s.url for s in conf.sites] + [u for u in known if u not in {s.url for s in conf.sites}]
    out = []
    for url in urls:
        site_row = known.get(url)
        sc = conf.site(url)
        rnd = last.get(site_row["id"]) if site_row else None
        in_a_row = archive.errors_in_a_row(site_row["id"]) if site_row else 0
        closed = bool(rnd and rnd["error"] and "REST API is closed" in rnd["error"])
        out.append(
            {
                "name": sc.name if sc else (site_row or {}).get("name") or url,
                "url": url,
                "last_round": None
                if rnd is None
                else {
                    "started": rnd["started_at"],
                    "finished": rnd["finished_at"],
                    "outcome": rnd["outcome"],
                    "requests": rnd["requests"],
                    "bytes": rnd["bytes"],
                    "changes": rnd["counts"],
                    "errors": rnd["errors"],
                    "error": rnd["error"],
                },
                "next_due": (schedule.get(url) or {}).get("next_due") if sc else None,
                "degraded": in_a_row >= 3 or closed,
                "degraded_reason": (rnd["error"] if closed else None)
                if rnd
                else None,
                "errors_in_a_row": in_a_row,
                "last_interrupted": archive.last_round_with(site_row["id"], "interrupted")
                if site_row
                else None,
                "pending_alerts": pending.get(site_row["id"], 0) if site_row else 0,
            }
        )
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not out:
        click.echo("no sites yet: `wpwatch sites add URL` or `wpwatch crawl URL`")
    for s in out:
        r = s["last_round"]
        if r is None:
            click.echo(f"{s['name']}: never crawled")
            continue
        click.echo(summary_line(s["name"], {**r, "counts": r["changes"], "started_at": r["started"],
                                            "finished_at": r["finished"]})
                   + f"  (last round {r['started'][:19]}Z)")
        notes = []
        if s["degraded"]:
            notes.append(f"DEGRADED ({s['errors_in_a_row']} failed rounds in a row)"
                         if s["errors_in_a_row"] >= 3 else "DEGRADED (REST API closed)")
        if s["next_due"]:
            notes.append(f"next round {s['next_due'][:19]}Z")
        if s["pending_alerts"]:
            notes.append(f"{s['pending_alerts']} alert(s) pending: `wpwatch alerts pending`")
        if notes:
            click.echo("  " + "; ".join(notes))


# -- run (the daemon) ------------------------------------------------------------------
@cli.command()
@click.option(
    "--grace",
    type=float,
    default=None,
    help="Seconds running rounds get to finish on SIGTERM/SIGINT (default 20, or [defaults] grace).",
)
@pass_ctx
def run(obj: Ctx, grace: float | None) -> None:
    """Watch every site in the config on its own schedule until stopped.

    One round per site every `interval` (default 15m) and a --full round every
    `full_interval` (default 1d). SIGTERM/SIGINT stop it cleanly (exit 0);
    SIGHUP reloads the config. Same as `python scheduler.py`.

    \b
    Example:
      wpwatch --config /etc/wpwatch/wpwatch.toml --db /var/lib/wpwatch/wpwatch.db run
    """
    from wpwatch.daemon import Daemon

    sys.exit(Daemon(obj.db, obj.config_path, grace=grace, verbose=obj.verbose).run())


# -- demo -----------------------------------------------------------------------------
@cli.command()
@click.option("--keep-db", is_flag=True, help="Keep the demo archive (demo.db) afterwards.")
@pass_ctx
def demo(obj: Ctx, keep_db: bool) -> None:
    """Watch a small bundled WordPress-like site on loopback and show what wpwatch finds.

    Needs no internet: it serves the bundled posts on 127.0.0.1, crawls them
    (a baseline), edits, unpublishes, deletes and back-dates posts, crawls
    again and prints the changes.

    \b
    Example:
      wpwatch demo
    """
    from wpwatch.demo.run import run_demo

    run_demo(echo=click.echo, keep_db=keep_db, db_path=os.environ.get("WPWATCH_DEMO_DB"))


# The command modules register themselves on `cli` (they import it from here).
from wpwatch import cli_alerts, cli_evidence, cli_report  # noqa: E402,F401
