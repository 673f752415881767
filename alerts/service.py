"""Alerts as the rest of wpwatch uses them: from the config, onto the archive, out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.deliver import DeliveryReport, deliver
from alerts.outbox import Outbox
from alerts.rules import routes_from_config
from archive import Archive
from wpwatch.config import Config


def install_outbox(archive: Archive, conf: Config) -> Outbox | None:
    """Make every change stored in `archive` queue its alerts (same transaction)."""
    routes = routes_from_config(conf.alerts)
    if not routes:
        return None
    outbox = Outbox(routes, {s.url: s.name for s in conf.sites})
    archive.change_listeners.append(outbox.on_change)
    return outbox


def channels(conf: Config) -> dict[str, Any]:
    from alerts.channels import channel_from_config

    routes_from_config(conf.alerts)  # validates routing keys first
    return {str(entry["name"]): channel_from_config(entry) for entry in conf.alerts}


def deliver_due(archive: Archive, conf: Config, *, dry_run: bool = False,
                now: datetime | None = None, ignore_backoff: bool = False) -> DeliveryReport:
    from alerts.items import build_message

    links = conf.defaults  # base_url (the workspace) or report_url: see config.change_link
    return deliver(
        archive,
        channels(conf),
        lambda group: build_message(archive, group, links),
        now=now,
        dry_run=dry_run,
        ignore_backoff=ignore_backoff,
    )
