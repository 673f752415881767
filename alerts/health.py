"""Watch health: is each site being watched? Alerts when that changes, once per episode.

After every round, :func:`after_round` reads the site's newest rounds and its current
episode and, when the episode changes, records one event and queues its alerts in one
transaction:

* ``site-failing``: ``failing_after`` failed rounds in a row (default 3), or failed rounds
  for ``failing_for`` (default 1h) since the first of them;
* ``site-degraded``: a round that could only watch the feed and sitemap (REST API closed);
* ``site-recovered``: a round that reached the REST API again after either.

An interrupted round (shutdown, time budget) neither fails nor heals. Nothing is sent
while an episode goes on, however many rounds it lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive import Archive
from archive import rounds as r
from archive import schema as s
from core.values import parse_duration, parse_iso, utcnow

logger = logging.getLogger("wpwatch.alerts.health")

FAILING_AFTER = 3
FAILING_FOR = 3600.0
HEALTHY, FAILING, DEGRADED = "healthy", "failing", "degraded"
REACHED = ("ok", "errors")  # the REST API answered: the site is watched
NEUTRAL = ("interrupted", "running")


@dataclass(frozen=True)
class Thresholds:
    failing_after: int = FAILING_AFTER
    failing_for: float = FAILING_FOR  # seconds

    @classmethod
    def of(cls, defaults: Mapping[str, Any]) -> Thresholds:
        return cls(
            int(defaults.get("failing_after", FAILING_AFTER)),
            parse_duration(defaults.get("failing_for", FAILING_FOR), "defaults.failing_for"),
        )


@dataclass(frozen=True)
class Decision:
    kind: str  # site-failing | site-degraded | site-recovered
    state: str  # the episode it opens: failing | degraded | healthy
    since: str  # when that episode (or, for recovered, the one it ends) started
    rounds: int  # failed rounds in a row; for recovered, 0
    reason: str | None


def decide(current: str, rounds: Sequence[Mapping[str, Any]], limits: Thresholds,
           now: datetime, episode_since: str | None = None) -> Decision | None:
    """What the newest round means, given the episode alerted so far (``current``).

    ``rounds``: newest first. Pure: the tests call it with plain dicts.
    """
    judged = [x for x in rounds if x["outcome"] not in NEUTRAL]
    if not judged:
        return None
    newest = judged[0]
    if newest["outcome"] in REACHED:
        if current == HEALTHY:
            return None
        return Decision("site-recovered", HEALTHY, episode_since or newest["started_at"], 0,
                        current)  # the reason a recovery gives: what it ends
    if newest["outcome"] == "degraded":
        if current == DEGRADED:
            return None
        return Decision("site-degraded", DEGRADED, newest["started_at"], 0, newest["error"])
    failed = []
    for x in judged:
        if x["outcome"] != "failed":
            break
        failed.append(x)
    if current == FAILING or not failed:
        return None
    first = failed[-1]["started_at"]
    long_enough = (now - parse_iso(first)).total_seconds() >= limits.failing_for
    if len(failed) >= limits.failing_after or long_enough:
        return Decision("site-failing", FAILING, first, len(failed), newest["error"])
    return None


@dataclass(frozen=True)
class HealthEvent:
    """What the outbox routes, like a change event."""

    event_id: int
    site_id: int
    site_url: str
    round_id: int
    kind: str


def stays_healthy(outcome: str | None, state: str | None) -> bool:
    """Whether a round leaves its site's health as it was, without reading its recent
    rounds: it reached a site that was healthy (``state``; None: never judged)."""
    return outcome in REACHED and state in (None, HEALTHY)


def after_round(archive: Archive, site_id: int, round_id: int, limits: Thresholds,
                outbox: Any = None, outcome: str | None = None) -> Decision | None:
    """Judge the site after its round; record (and queue alerts for) a change of episode.

    ``outcome``: the round's, when the caller has it: a healthy site whose round reached
    it stays healthy, which is then known without reading its recent rounds.
    """
    with archive.engine.begin() as conn:
        state = r.health_state(conn, site_id)
        if stays_healthy(outcome, state["state"] if state else None):
            return None
        recent = r.recent_rounds(conn, site_id, limit=max(limits.failing_after, 1) + 50)
        decision = decide(state["state"] if state else HEALTHY, recent, limits,
                          parse_iso(utcnow()), state["since"] if state else None)
        if decision is None:
            return None
        event_id = r.record_health_event(
            conn, site_id, kind=decision.kind, state=decision.state, round_id=round_id,
            since=decision.since, rounds=decision.rounds, reason=decision.reason,
        )
        if event_id is None:
            return None
        if outbox is not None:
            url = conn.execute(
                s.sites.select().with_only_columns(s.sites.c.url).where(s.sites.c.id == site_id)
            ).scalar_one()
            outbox.on_health(conn, HealthEvent(event_id, site_id, url, round_id, decision.kind))
    logger.info("site %d: %s (episode since %s)", site_id, decision.kind, decision.since)
    return decision


def health_line(archive: Archive, site_urls: Sequence[str]) -> str:
    """``4 sites watched: 2 healthy, 1 failing, 1 degraded`` (the configured sites)."""
    with archive.engine.connect() as conn:
        states = r.health_states(conn)
        ids = {row.url: row.id for row in conn.execute(s.sites.select())}
    counts = {HEALTHY: 0, FAILING: 0, DEGRADED: 0}
    for url in site_urls:
        counts[states.get(ids.get(url, -1), HEALTHY)] += 1
    n = len(site_urls)
    return (f"{n} site{'s' if n != 1 else ''} watched: {counts[HEALTHY]} healthy, "
            f"{counts[FAILING]} failing, {counts[DEGRADED]} degraded")
