"""`wpwatch sites add|list|remove|forget`: the sites in wpwatch.toml, and dropping one's history.

`remove` stops watching a site and keeps its archive; `forget` deletes the archive of a
site that is no longer watched, and only with `--yes`: it destroys evidence.
"""

from __future__ import annotations

import json
from typing import Any

import click

from core import config as cfg
from core.exceptions import ConfigError, RestClosed, RoundError, UnknownSite
from wpwatch.cli._common import Ctx, Group, global_options, json_option, pass_ctx


@click.group(cls=Group)
@global_options
def sites() -> None:
    """Manage the sites in wpwatch.toml.

    \b
    Examples:
      wpwatch sites add https://iuhrdf.org/en --name iuhrdf --interval 10m
      wpwatch sites list
      wpwatch sites remove iuhrdf          # stop watching; the archive is kept
    """


@sites.command("add")
@click.argument("url")
@click.option("--name", help="Short name (default: the host and path).")
@click.option("--interval", help='Polling interval, e.g. "10m" (default from [defaults]).')
@click.option("--types", help="Comma-separated REST bases to watch (default: all public types).")
@click.option("--no-check", is_flag=True,
              help="Save it without checking that the site answers as WordPress.")
@global_options
@pass_ctx
def sites_add(obj: Ctx, url: str, name: str | None, interval: str | None, types: str | None,
              no_check: bool) -> None:
    """Add a site to the config file, once it answers as a WordPress site.

    The check: the site is reachable, has a WordPress REST API, and lists every
    name in --types among its content types (an unknown one is an error that
    lists the available ones). --no-check saves it as given.

    \b
    Examples:
      wpwatch sites add https://iuhrdf.org/en --name iuhrdf --interval 10m
      wpwatch sites add https://example.org --types posts,pages
    """
    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    site = cfg.add_site(obj.config_path, url, name=name, interval=interval, types=type_list,
                        check=None if no_check else _check)
    click.echo(f"added {site.name} ({site.url}) to {obj.config_path}")


def _check(url: str, types: list[str]) -> None:
    from crawler.runner import check_site  # the first round's own discovery, writing nothing

    try:
        check_site(url, types)
    except RestClosed as exc:
        raise ConfigError(
            f"cannot add {url}: {exc}; add it anyway with --no-check to watch it through its "
            "RSS feed and sitemap"
        ) from None
    except RoundError as exc:
        raise ConfigError(
            f"cannot add {url}: {exc}; check the URL, or add it anyway with --no-check"
        ) from None
    except ConfigError as exc:  # --types names a type the site does not have
        raise ConfigError(f"cannot add {url}: {exc}") from None


@sites.command("list")
@json_option()
@global_options
@pass_ctx
def sites_list(obj: Ctx, as_json: bool) -> None:
    """List the configured sites.

    \b
    Examples:
      wpwatch sites list
      wpwatch sites list --json
    """
    conf = obj.config()
    rows: list[dict[str, Any]] = [
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
        click.echo(f"{r['name']}\t{r['url']}\tevery {human_duration(r['interval'])}\t{types}")


@sites.command("remove")
@click.argument("name_or_url")
@global_options
@pass_ctx
def sites_remove(obj: Ctx, name_or_url: str) -> None:
    """Stop watching a site: remove it from the config file (its archive is kept).

    To delete its history from the archive as well, `wpwatch sites forget` it.

    \b
    Example:
      wpwatch sites remove iuhrdf
    """
    site = cfg.remove_site(obj.config_path, name_or_url)
    click.echo(f"removed {site.name} ({site.url}) from {obj.config_path}; its archive is kept")


@sites.command("forget")
@click.argument("name_or_url")
@click.option("--yes", is_flag=True, help="Really delete it: this destroys evidence.")
@global_options
@pass_ctx
def sites_forget(obj: Ctx, name_or_url: str, yes: bool) -> None:
    """Delete a site's whole history from the archive. THIS DESTROYS EVIDENCE.

    Every stored response, version, change, round, hash-chain link, timestamp
    token and pending alert of the site is deleted; it cannot be undone, and
    exports made before stay the only copy. Other sites are untouched. A site
    still in the config must be removed first (`wpwatch sites remove`).
    Without --yes nothing is deleted.

    \b
    Example:
      wpwatch export --site https://old.example.org --out old.warc.gz   # keep a copy
      wpwatch sites forget https://old.example.org --yes
    """
    from archive.forget import forget_site

    configured = obj.config().site(name_or_url)
    if configured is not None:
        raise ConfigError(
            f"{configured.name} is still watched in {obj.config_path}: "
            f"`wpwatch sites remove {configured.name}` first"
        )
    url = obj.site_url(name_or_url)
    if not yes:
        raise ConfigError(
            f"not deleted: forgetting {url} destroys its evidence for good; "
            f"add --yes to delete it (export it first to keep a copy)"
        )
    counts = forget_site(obj.archive, url)
    if counts is None:
        raise UnknownSite(f"no site {url} in the archive {obj.db_label}")
    click.echo(
        f"forgot {url}: deleted {counts.get('versions', 0)} versions, "
        f"{counts.get('changes', 0)} changes and {counts.get('rounds', 0)} rounds "
        f"from {obj.db_label}"
    )


def human_duration(seconds: float) -> str:
    """600 → "10m": the largest whole unit of a duration."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
