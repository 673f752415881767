"""Working notes: accounts, API tokens, triage states, labels, notes and their audit log.

They live in the archive's database but apart from the evidence: nothing here is chained
or hashed into it, and a wrong label never touches a version or a change. Every triage
write appends to ``audit_log`` in the same transaction (who, when, what); nothing here
updates or deletes an audit row.

Plain functions over an :class:`~archive.store.Archive`; the review workspace (web/) and
`wpwatch users` call them. Passwords arrive here already hashed (argon2, by the caller);
API tokens arrive as their SHA-256.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from archive import schema as s
from archive.store import Archive
from core.exceptions import ConfigError
from core.values import utcnow

ROLES = ("viewer", "reviewer", "admin")  # each may do what the ones before it may
STATES = ("new", "seen", "important", "dismissed")


# -- accounts --------------------------------------------------------------------------------
def add_user(archive: Archive, name: str, role: str, password_hash: str | None) -> int:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    with archive.engine.begin() as conn:
        if conn.execute(select(s.users.c.id).where(s.users.c.name == name)).first():
            raise ConfigError(f"user {name!r} exists already: `wpwatch users remove {name}` first")
        result = conn.execute(insert(s.users).values(
            name=name, role=role, password_hash=password_hash, created_at=utcnow()))
        _audit(conn, None, "wpwatch users", "user added", {"user": name, "role": role})
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def remove_user(archive: Archive, name: str) -> None:
    with archive.engine.begin() as conn:
        user_id = conn.execute(select(s.users.c.id).where(s.users.c.name == name)).scalar()
        if user_id is None:
            raise ConfigError(f"no user {name!r}: `wpwatch users list` shows them")
        conn.execute(delete(s.api_tokens).where(s.api_tokens.c.user_id == user_id))
        conn.execute(delete(s.users).where(s.users.c.id == user_id))
        _audit(conn, None, "wpwatch users", "user removed", {"user": name})


def users(archive: Archive) -> list[dict[str, Any]]:
    u, t = s.users.c, s.api_tokens.c
    with archive.engine.connect() as conn:
        tokens: dict[int, int] = {}
        for uid in conn.execute(select(t.user_id)).scalars():
            tokens[uid] = tokens.get(uid, 0) + 1
        return [
            {"name": r.name, "role": r.role, "created_at": r.created_at,
             "password": r.password_hash is not None, "tokens": tokens.get(r.id, 0)}
            for r in conn.execute(select(u.id, u.name, u.role, u.created_at, u.password_hash)
                                  .order_by(u.name))
        ]  # fmt: skip


def user_by_name(archive: Archive, name: str) -> dict[str, Any] | None:
    with archive.engine.connect() as conn:
        row = conn.execute(select(s.users).where(s.users.c.name == name)).mappings().first()
        return dict(row) if row else None


def user_by_id(archive: Archive, user_id: int) -> dict[str, Any] | None:
    with archive.engine.connect() as conn:
        row = conn.execute(select(s.users).where(s.users.c.id == user_id)).mappings().first()
        return dict(row) if row else None


def set_password_hash(archive: Archive, user_id: int, password_hash: str) -> None:
    with archive.engine.begin() as conn:
        conn.execute(update(s.users).where(s.users.c.id == user_id)
                     .values(password_hash=password_hash))


def looked(archive: Archive, user_id: int, at: str) -> None:
    """Remember when the user last looked at the queue."""
    with archive.engine.begin() as conn:
        conn.execute(update(s.users).where(s.users.c.id == user_id).values(last_looked_at=at))


def add_token(archive: Archive, name: str, token_sha256: str) -> None:
    with archive.engine.begin() as conn:
        user_id = conn.execute(select(s.users.c.id).where(s.users.c.name == name)).scalar()
        if user_id is None:
            raise ConfigError(f"no user {name!r}: add it first with `wpwatch users add {name}`")
        conn.execute(insert(s.api_tokens).values(
            user_id=user_id, token_sha256=token_sha256, created_at=utcnow()))
        _audit(conn, None, "wpwatch users", "token issued", {"user": name})


def user_by_token(archive: Archive, token_sha256: str) -> dict[str, Any] | None:
    u, t = s.users.c, s.api_tokens.c
    with archive.engine.begin() as conn:
        row = conn.execute(
            select(s.users, t.id.label("token_id")).join(s.api_tokens, t.user_id == u.id)
            .where(t.token_sha256 == token_sha256)
        ).mappings().first()
        if row is None:
            return None
        conn.execute(update(s.api_tokens).where(t.id == row["token_id"])
                     .values(last_used_at=utcnow()))
        return dict(row)


# -- triage ----------------------------------------------------------------------------------
def triage(
    archive: Archive,
    change_id: int,
    actor: str,
    *,
    state: str | None = None,
    labels: Sequence[str] | None = None,
    note: str | None = None,
) -> None:
    """Set a change's state and/or labels and/or add a note; each part is audited."""
    if state is not None and state not in STATES:
        raise ConfigError(f"unknown state {state!r}: use one of {', '.join(STATES)}")
    now = utcnow()
    with archive.engine.begin() as conn:
        if state is not None:
            before = _state(conn, change_id)
            if state != before:
                conn.execute(delete(s.triage).where(s.triage.c.change_id == change_id))
                conn.execute(insert(s.triage).values(
                    change_id=change_id, state=state, updated_at=now, updated_by=actor))
                conn.execute(update(s.review_index).where(s.review_index.c.change_id == change_id)
                             .values(state=state))
                _audit(conn, change_id, actor, "state", {"from": before, "to": state}, now)
        if labels is not None:
            before_labels = _labels(conn, [change_id]).get(change_id, [])
            wanted = sorted(set(labels))
            if wanted != before_labels:
                conn.execute(
                    delete(s.change_labels).where(s.change_labels.c.change_id == change_id)
                )
                for label in wanted:
                    conn.execute(insert(s.change_labels).values(change_id=change_id, label=label))
                _audit(conn, change_id, actor, "labels",
                       {"added": sorted(set(wanted) - set(before_labels)),
                        "removed": sorted(set(before_labels) - set(wanted))}, now)
        if note is not None and note.strip():
            body = note.strip()
            conn.execute(insert(s.notes).values(
                change_id=change_id, author=actor, body=body, created_at=now))
            _audit(conn, change_id, actor, "note", {"body": body}, now)


def annotations_of(archive: Archive, change_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """change id → ``state``, ``labels``, ``notes`` (oldest first); every id asked for."""
    with archive.engine.connect() as conn:
        return annotations_on(conn, change_ids)


def annotations_on(conn: Connection, change_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(change_ids)
    out: dict[int, dict[str, Any]] = {i: {"state": "new", "labels": [], "notes": []} for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        tr, n = s.triage.c, s.notes.c
        for cid, state in conn.execute(
            select(tr.change_id, tr.state).where(tr.change_id.in_(chunk))
        ):
            out[cid]["state"] = state
        for cid, labels in _labels(conn, chunk).items():
            out[cid]["labels"] = labels
        for row in conn.execute(select(n.change_id, n.author, n.body, n.created_at)
                                .where(n.change_id.in_(chunk)).order_by(n.id)):
            out[row.change_id]["notes"].append(
                {"author": row.author, "body": row.body, "created_at": row.created_at})
    return out


def audit_trail(conn_or_archive: Archive | Connection, change_id: int) -> list[dict[str, Any]]:
    """The audit log of one change, oldest first."""
    a = s.audit_log.c
    q = select(a.actor, a.action, a.detail, a.at).where(a.change_id == change_id).order_by(a.id)
    if isinstance(conn_or_archive, Archive):
        with conn_or_archive.engine.connect() as conn:
            rows = conn.execute(q).all()
    else:
        rows = conn_or_archive.execute(q).all()
    return [{"actor": r.actor, "action": r.action, "detail": json.loads(r.detail), "at": r.at}
            for r in rows]


def annotated_ids(conn: Connection, change_ids: Sequence[int]) -> list[int]:
    """Those of change_ids that have a triage state, a label, a note or an audit entry."""
    found: set[int] = set()
    for start in range(0, len(change_ids), 500):
        chunk = change_ids[start : start + 500]
        for column in (s.triage.c.change_id, s.change_labels.c.change_id, s.notes.c.change_id,
                       s.audit_log.c.change_id):
            found |= set(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return sorted(found)


def _state(conn: Connection, change_id: int) -> str:
    tr = s.triage.c
    return conn.execute(select(tr.state).where(tr.change_id == change_id)).scalar() or "new"


def _labels(conn: Connection, change_ids: Sequence[int]) -> dict[int, list[str]]:
    cl = s.change_labels.c
    out: dict[int, list[str]] = {}
    for cid, label in conn.execute(select(cl.change_id, cl.label)
                                   .where(cl.change_id.in_(change_ids)).order_by(cl.label)):
        out.setdefault(cid, []).append(label)
    return out


def _audit(conn: Connection, change_id: int | None, actor: str, action: str,
           detail: dict[str, Any], at: str | None = None) -> None:
    conn.execute(insert(s.audit_log).values(
        change_id=change_id, actor=actor, action=action,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True), at=at or utcnow()))
