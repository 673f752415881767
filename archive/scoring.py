"""Changes scored under a site's ignore rules, and scored again when the rules change.

A change's evidence (its kind, the fields that changed, its versions and their chain links)
is written once. How it scores under the site's ignore rules (``change`` or ``noise``, the
fields the rules keep, the rules that made it noise, the rule set's hash) sits beside it
in four columns that no chain record covers, so ``rescore`` can rewrite them from the raw
bytes the archive kept without touching a version, a response or a chain link.

The rules themselves come from above (``diffs.ignore.IgnoreRules``, as a
:class:`~archive.records.Scorer`); every rule set used is stored by its hash.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.records import Scorer, Verdict
from core.values import utcnow

#: Parsed response bodies by response id (a listing holds up to 100 posts).
BodyCache = dict[int, Any]


@dataclass(frozen=True)
class Moved:
    """A change whose verdict a rescore changed."""

    change_id: int
    site: str
    type: str
    wp_id: int
    title: str | None
    before: str  # change | noise
    after: str
    fields: list[str]  # what changed under the new rules (for noise: what was set aside)
    noise_rules: list[str]


def columns(verdict: Verdict | None, ruleset: str | None) -> dict[str, Any]:
    """The change row's scoring columns for a verdict ({} when nothing was scored)."""
    if verdict is None or ruleset is None:
        return {}
    return {
        "verdict": "noise" if verdict.noise_rules else "change",
        "scored_fields": json.dumps(list(verdict.fields)),
        "noise_rules": json.dumps(list(verdict.noise_rules)),
        "ruleset": ruleset,
    }


def save_rule_set(conn: Connection, scorer: Scorer) -> str:
    """Store the rule set under its hash, once; returns the hash.

    Sites share rule sets (the defaults' rules) but not their lock: when two sites'
    rounds store the same new one at once (PostgreSQL), the second insert does nothing.
    """
    key = scorer.hash
    found = conn.execute(select(s.rule_sets.c.hash).where(s.rule_sets.c.hash == key)).first()
    if found is None:
        upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(upsert(s.rule_sets).values(
            hash=key, rules=json.dumps(scorer.as_dict(), sort_keys=True), first_used=utcnow(),
        ).on_conflict_do_nothing(index_elements=["hash"]))  # fmt: skip
    return key


def raw_record(
    conn: Connection, version_id: int | None, cache: BodyCache | None = None
) -> dict[str, Any] | None:
    """The REST record a stored version was read from, out of its response's raw bytes."""
    if version_id is None:
        return None
    v = s.versions.c
    row = conn.execute(
        select(v.response_id, v.item_index).where(v.id == version_id)
    ).first()
    if row is None:
        return None
    cache = {} if cache is None else cache
    if row.response_id not in cache:
        blob = conn.execute(
            select(s.responses.c.body).where(s.responses.c.id == row.response_id)
        ).scalar_one()
        try:
            cache[row.response_id] = json.loads(zlib.decompress(blob))
        except (ValueError, zlib.error):
            cache[row.response_id] = None
    body = cache[row.response_id]
    if row.item_index is None:
        record = body
    elif isinstance(body, list) and 0 <= row.item_index < len(body):
        record = body[row.item_index]
    else:
        return None
    return record if isinstance(record, dict) else None


def rescore(
    conn: Connection,
    rules_of: Callable[[str], Scorer | None],
    *,
    site: str | None = None,
    since: str | None = None,
) -> tuple[int, list[Moved]]:
    """Score stored changes again under today's rules; (changes looked at, those that moved).

    ``rules_of(site_url)`` gives a site's rules (None: the site is not configured, its
    changes are left as they are). Only the scoring columns of change rows are written.
    """
    c, p, st = s.changes.c, s.posts.c, s.sites.c
    q = (
        select(c.id, c.kind, c.fields, c.verdict, c.from_version_id, c.to_version_id,
               st.url.label("site"), p.type, p.wp_id, p.title)
        .join(s.posts, p.id == c.post_id)
        .join(s.sites, st.id == c.site_id)
        .order_by(c.id)
    )  # fmt: skip
    if site:
        q = q.where((st.url == site) | (st.name == site))
    if since:
        q = q.where(c.detected_at >= since)
    cache: BodyCache = {}
    saved: set[str] = set()
    looked, moved = 0, []
    for row in conn.execute(q).all():
        scorer = rules_of(row.site)
        if scorer is None:
            continue
        looked += 1
        if scorer.hash not in saved:
            saved.add(save_rule_set(conn, scorer))
        fields = json.loads(row.fields or "[]")
        old = new = None
        if scorer and row.kind == "edited" and fields:
            old = raw_record(conn, row.from_version_id, cache)
            new = raw_record(conn, row.to_version_id, cache)
        verdict = scorer.score(row.kind, fields, old, new)
        values = columns(verdict, scorer.hash)
        conn.execute(update(s.changes).where(c.id == row.id).values(**values))
        before = row.verdict or "change"
        if values["verdict"] != before:
            moved.append(Moved(
                row.id, row.site, row.type, row.wp_id, row.title, before, values["verdict"],
                list(verdict.fields) or fields, list(verdict.noise_rules),
            ))  # fmt: skip
    return looked, moved
