"""Turning stored changes into what a message tells: summary, key words, the diff."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alerts.deliver import Group
from alerts.message import AlertItem, Message, Notice, burst_line
from archive import Archive, queries
from archive.rounds import health_event
from core.config import change_link
from diffs.model import Comparison
from diffs.render import render
from diffs.report import change_report

MAX_PHRASES = 5
PHRASE_CHARS = 300


def alert_item(archive: Archive, change_id: int, keywords: tuple[str, ...] = (),
               links: Mapping[str, Any] | None = None) -> AlertItem | None:
    change = queries.change(archive, change_id)
    if change is None:
        return None
    report = change_report(change)
    c = report.comparison
    removed: list[str] = []
    added: list[str] = []
    if c.kind == "edited":
        for block in c.blocks:
            for seg in block.segments:
                text = " ".join(seg.text.split())
                if not text:
                    continue
                if seg.op == "-" and len(removed) < MAX_PHRASES:
                    removed.append(text[:PHRASE_CHARS])
                elif seg.op == "+" and len(added) < MAX_PHRASES:
                    added.append(text[:PHRASE_CHARS])
    return AlertItem(
        change_id=change.id,
        site=change.site,
        site_name=change.site_name or change.site,
        kind=change.kind,
        type=change.type,
        wp_id=change.wp_id,
        title=c.title or change.title or "",
        url=c.url or change.url,
        detected_at=change.detected_at,
        fields=tuple(change.fields),
        summary=c.summary,
        removed=tuple(removed),
        added=tuple(added),
        diff_text=render(report, "text"),
        report_url=change_link(links or {}, change.id),  # the workspace's page, or the report's
        keywords=keywords,
        versions=versions(c),
        dated=_dated(c),
        backdated_by=c.published.backdated_by if c.published else "",
        seen=report.context.presence.line if report.context.presence else "",
    )


def versions(c: Comparison) -> str:
    """``v1 (#11) → v2 (#14)``, or the one version a new or gone post has."""
    if c.old and c.new and c.old != c.new:
        return f"{c.old.label} → {c.new.label}"
    shown = c.new or c.old
    return shown.label if shown else ""


def _dated(c: Comparison) -> str:
    p = c.published
    if p is None:
        return ""
    return (p.date or "(no date)") + (f", by {p.author}" if p.author else "")


def notice(archive: Archive, event_id: int) -> Notice | None:
    with archive.engine.connect() as conn:
        e = health_event(conn, event_id)
    if e is None:
        return None
    return Notice(kind=e["kind"], site=e["site"], site_name=e["site_name"] or e["site"],
                  since=e["since"], detected_at=e["detected_at"], round_id=e["round_id"],
                  rounds=e["rounds"], reason=e["reason"])


def build_message(archive: Archive, group: Group, links: Mapping[str, Any] | None = None,
                  health_line: str = "") -> Message:
    """The message of one group: its changes, its health notices and, for a burst, the
    headline that counts them; ``health_line`` opens a daily digest."""
    items: Iterable[AlertItem | None] = (
        alert_item(archive, cid, group.keywords.get(cid, ()), links)
        for cid in group.change_ids
    )
    shown = tuple(i for i in items if i is not None)
    notices = tuple(n for n in (notice(archive, e) for e in group.event_ids) if n is not None)
    return Message(channel=group.channel, digest=group.digest, items=shown, notices=notices,
                   burst=burst_line(shown) if group.burst else "",
                   health_line=health_line if group.digest == "daily" else "")
