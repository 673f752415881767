"""`wpwatch crawl`: one polling round, now, for some sites or every configured one."""

from __future__ import annotations

import re
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from core.exceptions import ConfigError
from core.values import normalize_site_url, parse_duration
from wpwatch.cli._common import Ctx, global_options, pass_ctx
from wpwatch.summary import summary_line

if TYPE_CHECKING:
    from core.config import Config
    from crawler.runner import SiteSpec

# Exit status of `crawl` (documented in its help and the README). 2 is any usage or config
# error (wpwatch.cli._common.EXIT_USAGE); further codes come after it.
EXIT_OK = 0
EXIT_SITE_FAILED = 1  # a site could not be watched (unreachable, not WordPress, REST closed,
#                       or its round timed out)
EXIT_ALERTS_UNDELIVERED = 3  # crawled fine, but some alerts could not be delivered (still queued)

_BARE_NAME = re.compile(r"[\w-]+")  # "iuhrdf": a site's name (a URL has a dot, colon or slash)


@click.command()
@click.argument("site_urls", nargs=-1)
@click.option("--full", is_flag=True, help="Re-read every post instead of the incremental listing.")
@click.option("--concurrency", default=8, show_default=True, help="Sites crawled at once.")
@click.option("--no-alerts", is_flag=True, help="Queue no alerts for what this round finds.")
@click.option("--round-timeout", metavar="DURATION",
              help='Time budget of each round, e.g. "10m" (default: the site\'s round_timeout, '
                   "else 2 minutes, or 30 minutes for a first or --full round).")
@global_options
@pass_ctx
def crawl(
    obj: Ctx, site_urls: tuple[str, ...], full: bool, concurrency: int, no_alerts: bool,
    round_timeout: str | None,
) -> None:
    """Run one polling round for SITE_URLS (or every site in the config).

    Prints one line per site: requests made and changes found.

    \b
    Exit status:
      0  every site was crawled
      1  a site could not be watched (unreachable, not WordPress, REST closed,
         timed out)
      2  a usage or config error (bad URL, bad wpwatch.toml): nothing was crawled
      3  crawled, but some alerts could not be delivered (they stay queued:
         `wpwatch alerts pending`; the next crawl or `wpwatch alerts send` retries)

    \b
    Examples:
      wpwatch crawl https://example.org https://example.net/en
      wpwatch crawl --full                # every configured site, every post
    """
    from crawler.runner import ProgressLine, run_rounds, run_sync

    budget = parse_duration(round_timeout, "--round-timeout") if round_timeout else None
    conf = obj.config(must_exist=not site_urls)
    specs = _specs(obj, conf, site_urls)
    archive = obj.archive
    archive.mark_stale_rounds_interrupted()
    alerting = bool(conf.alerts) and not no_alerts
    outbox = None
    if alerting:
        from alerts.service import check, install_outbox

        check(conf)  # every route, its secrets and security settings: before any request
        outbox = install_outbox(archive, conf)
    else:
        conf.check()
    started = time.monotonic()

    def report(spec: SiteSpec, rnd: dict[str, Any]) -> None:
        click.echo(summary_line(spec.name or rnd["site"], rnd))

    results = run_sync(
        lambda: run_rounds(archive, specs, full=full, concurrency=concurrency, on_done=report,
                           round_timeout=budget, progress=ProgressLine(sys.stderr)),
        verbose=obj.verbose,
    )
    # A degraded site (REST API closed, watched through its feed) or a round cut
    # short by its time budget is still an error a user can act on: exit non-zero
    # with the reason, as for a failed one.
    from alerts.service import judge_health

    for r in results:  # a site that starts or stops failing: its one alert is queued
        judge_health(archive, conf, r, outbox)
    failed = [r for r in results if r["outcome"] in ("failed", "degraded", "interrupted")]
    for r in failed:
        click.echo(f"wpwatch: {r['site']}: {r['error']}", err=True)
    if len(specs) > 1:
        click.echo(
            f"{len(specs)} sites in {time.monotonic() - started:.1f} s, {len(failed)} failed"
        )
    undelivered = alerting and not _deliver(archive, conf)
    sys.exit(EXIT_SITE_FAILED if failed else EXIT_ALERTS_UNDELIVERED if undelivered else EXIT_OK)


def _deliver(archive: Any, conf: Config) -> bool:
    """Send what the rounds queued, each route on its own; False when some could not go."""
    from alerts.service import deliver_due

    sent = deliver_due(archive, conf)
    for line in sent.failed:
        click.echo(f"wpwatch: alert not delivered: {line} (queued: `wpwatch alerts pending`)",
                   err=True)
    if sent.sent or sent.failed:
        click.echo(f"alerts: {sent.sent} message(s) sent, {len(sent.failed)} failed")
    return not sent.failed


def _specs(obj: Ctx, conf: Config, site_urls: tuple[str, ...]) -> list[SiteSpec]:
    """The sites to crawl: those named (configured or not), else every configured one."""
    from crawler.runner import SiteSpec

    if not site_urls:
        if not conf.sites:
            raise ConfigError(f"no sites in {conf.path}: add one with `wpwatch sites add URL`")
        return [SiteSpec.of(s) for s in conf.sites]
    specs: list[SiteSpec] = []
    for raw in site_urls:
        site = conf.site(raw)
        if site is not None:
            specs.append(SiteSpec.of(site))
        elif _BARE_NAME.fullmatch(raw):  # a name, not a URL: a site the archive knows, or none
            specs.append(SiteSpec(url=obj.site_url(raw), name=raw))
        else:
            specs.append(SiteSpec(url=normalize_site_url(raw)))
    return specs
