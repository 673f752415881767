"""The archive's answers in the JSON contract's shape: the change list, a post's history.

Functions over a connection (`Archive.changes` and `Archive.history` open it); nothing
here writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from archive import codec
from archive import schema as s


def changes(
    conn: Connection,
    *,
    since: str | None = None,
    site: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
    with_noise: bool = False,
) -> list[dict[str, Any]]:
    """Change records in the JSON contract's shape, oldest first.

    Changes scored as noise under the site's ignore rules are left out unless
    ``with_noise``. ``fields`` is what changed that the rules keep (for noise: what
    changed, all of it set aside); ``ignored`` what the rules set aside.
    """
    c, p, st = s.changes.c, s.posts.c, s.sites.c
    q = (
        select(
            c.id, c.kind, c.fields, c.detected_at, c.from_version_id, c.to_version_id,
            c.round_id, c.verdict, c.scored_fields, c.noise_rules, c.ruleset,
            st.url.label("site"), st.name.label("site_name"), p.type, p.wp_id, p.link,
            p.title,
        )
        .join(s.posts, p.id == c.post_id)
        .join(s.sites, st.id == c.site_id)
        .order_by(c.id)
    )
    if since:
        q = q.where(c.detected_at >= since)
    if site:
        q = q.where((st.url == site) | (st.name == site))
    if kind:
        q = q.where(c.kind == kind)
    if not with_noise:
        q = q.where((c.verdict.is_(None)) | (c.verdict != "noise"))
    if limit:
        q = q.limit(limit)
    return [
        {
            "id": r.id,
            "site": r.site,
            "site_name": r.site_name,
            "type": r.type,
            "wp_id": r.wp_id,
            "kind": r.kind,
            "url": r.link,
            "title": r.title,
            "detected_at": r.detected_at,
            **scored_fields(r),
            "from_version": r.from_version_id,
            "to_version": r.to_version_id,
            "round": r.round_id,
        }
        for r in conn.execute(q)
    ]


def history(conn: Connection, site_url: str, type_: str, wp_id: int) -> dict[str, Any] | None:
    """A post and all its stored versions, oldest first.

    Each version says the post's WordPress ``status``, whether that is ``public``,
    and, for a revision WordPress saved, ``revision`` (id, autosave, author,
    author_login, saved_gmt; None for the versions our polls stored).
    """
    p, v, r, rv = s.posts.c, s.versions.c, s.responses.c, s.revisions.c
    post = conn.execute(
        select(s.posts, s.sites.c.url.label("site"))
        .join(s.sites, s.sites.c.id == p.site_id)
        .where(s.sites.c.url == site_url, p.type == type_, p.wp_id == wp_id)
    ).mappings().first()
    if post is None:
        return None
    rows = conn.execute(
        select(v.id, v.content_hash, v.fetched_at, v.modified_gmt, v.revision_count,
               v.item_index, v.normalized, r.sha256, r.url, r.status,
               rv.wp_revision_id, rv.autosave, rv.author_id, rv.author_login,
               rv.saved_gmt)
        .join(s.responses, r.id == v.response_id)
        .join(s.revisions, rv.version_id == v.id, isouter=True)
        .where(v.post_id == post["id"])
        .order_by(v.id)
    ).mappings()
    versions = [_history_version(dict(x)) for x in rows]
    chg = conn.execute(
        select(s.changes.c.id, s.changes.c.kind, s.changes.c.detected_at,
               s.changes.c.fields, s.changes.c.to_version_id, s.changes.c.verdict,
               s.changes.c.noise_rules)
        .where(s.changes.c.post_id == post["id"])
        .order_by(s.changes.c.id)
    ).mappings()
    changes = [
        dict(x) | {
            "fields": codec.fields_list(x["fields"]),
            "verdict": x["verdict"] or "change",
            "noise_rules": codec.fields_list(x["noise_rules"] or "[]"),
        }
        for x in chg
    ]
    return {"post": dict(post), "versions": versions, "changes": changes}


def scored_fields(row: Any) -> dict[str, Any]:
    """A change row's fields and verdict under the ignore rules it was scored under."""
    fields = codec.fields_list(row.fields)
    noise = row.verdict == "noise"
    kept = fields if noise or row.scored_fields is None else codec.fields_list(row.scored_fields)
    return {
        "fields": kept,
        "verdict": row.verdict or "change",
        "ignored": fields if noise else [f for f in fields if f not in kept],
        "noise_rules": codec.fields_list(row.noise_rules) if row.noise_rules else [],
        "ruleset": row.ruleset,
    }


def _history_version(row: dict[str, Any]) -> dict[str, Any]:
    """A version row of `history`: its WordPress status, and the revision it is, if one."""
    wp_status = codec.unpack(row.pop("normalized")).get("status")
    revision = None
    if row["wp_revision_id"] is not None:
        revision = {"id": row["wp_revision_id"], "autosave": bool(row["autosave"]),
                    "author": row["author_id"], "author_login": row["author_login"],
                    "saved_gmt": row["saved_gmt"]}
    for key in ("wp_revision_id", "autosave", "author_id", "author_login", "saved_gmt"):
        row.pop(key)
    return row | {"wp_status": wp_status,
                  "public": None if wp_status is None or revision else wp_status == "publish",
                  "revision": revision}
