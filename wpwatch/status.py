"""What `wpwatch status` reports, per site: plain records built from the archive and config.

:func:`site_statuses` is a pure reading of the archive: it writes nothing and prints
nothing; the command prints its records as text or JSON (`status --json` is a contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.config import Config

if TYPE_CHECKING:
    from archive import Archive

#: Failed rounds in a row after which a site is shown as degraded.
DEGRADED_AFTER_ERRORS = 3

#: Round outcomes that show the site answered (not "failed", "interrupted" or "running").
REACHED = ("ok", "errors", "degraded")


def site_statuses(
    archive: Archive, conf: Config, *, only: str | None = None
) -> list[dict[str, Any]]:
    """One record per configured site, then per other archived site that was ever reached.

    A site that is not configured is listed only when the archive holds a record of it
    (a version or a change) or one of its rounds reached it (ok, with errors, or
    degraded): a one-off `wpwatch crawl` of a URL that never answered leaves only failed
    rounds and is not shown as a failing site forever. `only` (a site URL) gives that
    site's record alone, whatever the archive holds of it.

    Each has `name`, `url`, `last_round` (or None), `next_due`, `degraded`,
    `degraded_reason`, `errors_in_a_row`, `last_interrupted`, `pending_alerts` and
    `alert_errors` (route name → `pending`, `error`, `next_attempt_at` of its alerts of
    this site that failed to go: the latest error).
    """
    from alerts.deliver import pending_counts

    last = archive.last_rounds()
    schedule = archive.schedules()
    pending = pending_counts(archive)
    known = {s["url"]: s for s in archive.list_sites()}
    configured = [s.url for s in conf.sites]
    if only is not None:
        urls = [only]
    else:
        urls = configured + [
            u for u, row in known.items() if u not in set(configured) and _reached(archive, row)
        ]
    out = []
    for url in urls:
        site_row = known.get(url)
        sc = conf.site(url)
        rnd = last.get(site_row["id"]) if site_row else None
        in_a_row = archive.errors_in_a_row(site_row["id"]) if site_row else 0
        degraded_mode = bool(rnd and rnd["outcome"] == "degraded")
        out.append(
            {
                "name": sc.name if sc else (site_row or {}).get("name") or url,
                "url": url,
                "last_round": _round_record(rnd),
                "next_due": (schedule.get(url) or {}).get("next_due") if sc else None,
                "degraded": in_a_row >= DEGRADED_AFTER_ERRORS or degraded_mode,
                "degraded_reason": rnd["error"] if rnd and degraded_mode else None,
                "errors_in_a_row": in_a_row,
                "last_interrupted": archive.last_round_with(site_row["id"], "interrupted")
                if site_row
                else None,
                "pending_alerts": pending.get(site_row["id"], 0) if site_row else 0,
                "alert_errors": _alert_errors(archive, site_row["id"]) if site_row else {},
            }
        )
    return out


def _alert_errors(archive: Archive, site_id: int) -> dict[str, dict[str, Any]]:
    from alerts.deliver import route_states

    return {
        route: {"pending": st["pending"], "error": st["last_error"],
                "next_attempt_at": st["next_attempt_at"]}
        for route, st in route_states(archive, site_id).items()
        if st["last_error"]
    }


def _reached(archive: Archive, site_row: dict[str, Any]) -> bool:
    """Whether the archive holds evidence of the site or a round of it ever got through."""
    if archive.chain_head(site_row["id"]) is not None:
        return True
    return any(archive.last_round_with(site_row["id"], outcome) for outcome in REACHED)


def _round_record(rnd: dict[str, Any] | None) -> dict[str, Any] | None:
    if rnd is None:
        return None
    return {
        "started": rnd["started_at"],
        "finished": rnd["finished_at"],
        "outcome": rnd["outcome"],
        "requests": rnd["requests"],
        "bytes": rnd["bytes"],
        "changes": rnd["counts"],
        "errors": rnd["errors"],
        "error": rnd["error"],
    }
