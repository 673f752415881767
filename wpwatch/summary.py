"""One-line summaries of rounds, shared by the CLI and the daemon's log."""

from __future__ import annotations

from typing import Any

from core.values import KINDS, parse_iso


def summary_line(label: str, rnd: dict[str, Any]) -> str:
    """`label: ok, 8 requests in 0.4 s; 1 new, 2 edited, …; 0 errors` (and why, if not ok)."""
    counts = rnd.get("counts") or {}
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in KINDS)
    took = ""
    if rnd.get("started_at") and rnd.get("finished_at"):
        seconds = (parse_iso(rnd["finished_at"]) - parse_iso(rnd["started_at"])).total_seconds()
        took = f" in {seconds:.1f} s"
    archived = rnd.get("archived") or {}
    baseline = ""
    if archived:  # a first round: what it archived, as "20 posts, 8 pages, 7 books"
        baseline = "baseline of " + ", ".join(
            f"{n:,} {base}" for base, n in sorted(archived.items(), key=lambda kv: -kv[1])
        ) + "; "
    line = (
        f"{label}: {rnd['outcome']}, {rnd.get('requests', 0)} requests{took}; {baseline}{parts}; "
        f"{rnd.get('errors', 0)} errors"
    )
    if rnd.get("error") and rnd["outcome"] != "failed":
        line += f" ({rnd['error']})"
    return line
