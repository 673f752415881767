"""One-line summaries of rounds, shared by the CLI and the daemon's log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wpwatch.values import KINDS


def summary_line(label: str, rnd: dict[str, Any]) -> str:
    counts = rnd.get("counts") or {}
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in KINDS)
    took = ""
    if rnd.get("started_at") and rnd.get("finished_at"):
        a = datetime.fromisoformat(rnd["started_at"].replace("Z", "+00:00"))
        b = datetime.fromisoformat(rnd["finished_at"].replace("Z", "+00:00"))
        took = f" in {(b - a).total_seconds():.1f} s"
    line = (
        f"{label}: {rnd['outcome']}, {rnd.get('requests', 0)} requests{took}; {parts}; "
        f"{rnd.get('errors', 0)} errors"
    )
    if rnd.get("error") and rnd["outcome"] != "failed":
        line += f" ({rnd['error']})"
    return line
