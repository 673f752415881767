"""Alerts as the rest of wpwatch uses them: from the config, onto the archive, out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.deliver import DeliveryReport, deliver
from alerts.outbox import Outbox
from alerts.rules import routes_from_config
from archive import Archive
from core.config import Config
from core.exceptions import ConfigError


def check(conf: Config) -> dict[str, Any]:
    """The whole config, checked before any network work; the channels, by route name.

    Sites and ``[defaults]`` (their ``env:`` references included), every route's
    routing keys, every channel's options, security settings and ``env:`` secrets.
    The first problem is a ConfigError of one line naming the key.
    """
    conf.check()
    routes_from_config(conf.alerts)
    return _channels(conf)


def channels(conf: Config) -> dict[str, Any]:
    """Every route's channel (each validated; the first problem raises ConfigError)."""
    routes_from_config(conf.alerts)  # validates routing keys first
    return _channels(conf)


def _channels(conf: Config) -> dict[str, Any]:
    from alerts.channels import channel_from_config

    return {str(entry["name"]): channel_from_config(entry) for entry in conf.alerts}


def usable_channels(conf: Config) -> tuple[dict[str, Any], dict[str, str]]:
    """Each route's channel on its own: (route → channel, route → why it cannot be built)."""
    from alerts.channels import channel_from_config

    built: dict[str, Any] = {}
    broken: dict[str, str] = {}
    for entry in conf.alerts:
        name = str(entry.get("name"))
        try:
            built[name] = channel_from_config(entry)
        except ConfigError as exc:
            broken[name] = str(exc)
    return built, broken


def install_outbox(archive: Archive, conf: Config) -> Outbox | None:
    """Make every change stored in `archive` queue its alerts (same transaction)."""
    routes = routes_from_config(conf.alerts)
    if not routes:
        return None
    outbox = Outbox(routes, {s.url: s.name for s in conf.sites})
    archive.change_listeners.append(outbox.on_change)
    return outbox


def deliver_due(archive: Archive, conf: Config, *, dry_run: bool = False,
                now: datetime | None = None, ignore_backoff: bool = False) -> DeliveryReport:
    """Deliver what is due, each route on its own: one broken channel holds no other back.

    Automatic runs (`crawl`, the daemon) keep the backoff; `alerts send` ignores it.
    """
    from alerts.health import health_line
    from alerts.items import build_message

    links = conf.defaults  # base_url (the workspace) or report_url: see config.change_link
    built, broken = usable_channels(conf)
    routes = routes_from_config(conf.alerts)
    bursts = {r.channel: (r.burst_threshold, r.burst_window) for r in routes
              if r.digest == "immediate"}
    sites = [s.url for s in conf.sites]

    def build(group: Any) -> Any:
        line = health_line(archive, sites) if group.digest == "daily" and sites else ""
        return build_message(archive, group, links, line)

    return deliver(
        archive,
        built,
        build,
        broken=broken,
        now=now,
        dry_run=dry_run,
        ignore_backoff=ignore_backoff,
        bursts=bursts,
    )


def judge_health(archive: Archive, conf: Config, record: dict[str, Any],
                 outbox: Outbox | None) -> Any:
    """After a round: a change of the site's watch health, recorded and its alerts queued.

    ``record``: the round's record from the crawler (``site_id`` and ``id`` of the round);
    a round that never started (no round row) is not judged. Returns the decision or None.
    """
    from alerts.health import Thresholds, after_round

    if "site_id" not in record or "id" not in record:
        return None
    return after_round(archive, record["site_id"], record["id"], Thresholds.of(conf.defaults),
                       outbox, record.get("outcome"))
