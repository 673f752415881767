"""What follows every scheduled round, in the one-machine daemon and on every node alike:
a timestamp of the site's chain head, the site's watch health judged, the round's one
log line, and the outbox delivered. Each step's failure is logged; the round stands."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from archive import Archive
from core import config as cfg
from core.values import resolve_env
from wpwatch.summary import summary_line

logger = logging.getLogger("wpwatch.daemon")


async def after_round(archive: Archive, conf: cfg.Config, outbox: Any, name: str, full: bool,
                      record: dict[str, Any]) -> None:
    """Timestamp, health, and the round's log line (warning or error when it went badly)."""
    await timestamp(archive, conf, record)
    await judge_health(archive, conf, record, outbox)
    line = summary_line(name + (" (full)" if full else ""), record)
    if record["outcome"] in ("ok", "interrupted"):
        logger.info("%s", line)
    elif record["outcome"] in ("degraded", "errors"):
        logger.warning("%s", line)
    else:
        logger.error("%s%s", line, f": {record['error']}" if record.get("error") else "")


async def judge_health(archive: Archive, conf: cfg.Config, record: dict[str, Any],
                       outbox: Any) -> None:
    """A site that starts or stops failing (or being degraded) gets its one alert queued;
    delivery follows the round as usual."""
    from alerts.health import stays_healthy
    from alerts.service import judge_health as judge

    if "health_before" in record and stays_healthy(record.get("outcome"),
                                                   record["health_before"]):
        return  # known from the round's own start (a node's): nothing to read or judge
    try:
        decision = await asyncio.to_thread(judge, archive, conf, record, outbox)
    except Exception as exc:  # the archive busy, say: the next round judges again
        logger.debug("health not judged", exc_info=True)
        logger.error("%s: watch health not judged: %s: %s", record.get("site"),
                     type(exc).__name__, exc)
        return
    if decision is not None:
        logger.warning("%s: %s", record.get("site"), decision.kind)


async def timestamp(archive: Archive, conf: cfg.Config, record: dict[str, Any]) -> None:
    """RFC 3161 token of the site's chain head after a round that wrote something.

    Optional: `[defaults] tsa_url` (or env WPWATCH_TSA_URL). A failing
    authority is logged; the round stands and `wpwatch timestamp` can catch up.
    """
    tsa_url = conf.defaults.get("tsa_url") or os.environ.get("WPWATCH_TSA_URL")
    if not tsa_url or "site_id" not in record:
        return  # stamp_heads itself skips a head that already has its token
    from archive.tsa import stamp_heads

    try:
        stamps = await asyncio.to_thread(
            stamp_heads, archive, str(resolve_env(tsa_url, "defaults.tsa_url")),
            site_ids=[record["site_id"]],
        )
    except Exception as exc:  # any failure of the authority: the round stands
        logger.debug("timestamp failed", exc_info=True)
        logger.error("timestamp of %s's chain head failed: %s", record.get("site"), exc)
        return
    if stamps:
        logger.info("%s: chain head timestamped by %s", record.get("site"), tsa_url)


async def deliver(archive: Archive, conf: cfg.Config) -> None:
    """Send what the outbox holds; in a thread, so SMTP never blocks the loop."""
    if not conf.alerts:
        return
    from alerts.service import deliver_due

    try:
        report = await asyncio.to_thread(deliver_due, archive, conf)
    except Exception as exc:  # e.g. the archive locked: the next look retries
        logger.debug("alert delivery failed", exc_info=True)
        logger.error("alert delivery failed: %s: %s (will retry)", type(exc).__name__, exc)
        return
    for line in report.failed:
        logger.warning("alert not delivered: %s (will retry)", line)
    if report.sent or report.failed:
        logger.info("alerts: %d message(s) sent, %d failed%s", report.sent, len(report.failed),
                    f", {report.not_tried} left for later" if report.not_tried else "")
