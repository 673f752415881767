"""`wpwatch sites add|list|remove`: the sites in wpwatch.toml."""

from __future__ import annotations

import json
from typing import Any

import click

from wpwatch import config as cfg
from wpwatch.cli._common import Ctx, Group, global_options, json_option, pass_ctx


@click.group(cls=Group)
@global_options
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
@global_options
@pass_ctx
def sites_add(obj: Ctx, url: str, name: str | None, interval: str | None, types: str | None) -> None:
    """Add a site to the config file."""
    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    site = cfg.add_site(obj.config_path, url, name=name, interval=interval, types=type_list)
    click.echo(f"added {site.name} ({site.url}) to {obj.config_path}")


@sites.command("list")
@json_option()
@global_options
@pass_ctx
def sites_list(obj: Ctx, as_json: bool) -> None:
    """List the configured sites."""
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
    """Remove a site from the config file (its archive is kept)."""
    site = cfg.remove_site(obj.config_path, name_or_url)
    click.echo(f"removed {site.name} ({site.url}) from {obj.config_path}; its archive is kept")


def human_duration(seconds: float) -> str:
    """600 → "10m": the largest whole unit of a duration."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
