"""The archive: one narrow interface over an SQLAlchemy Core engine.

SQLite (WAL) by default, any SQLAlchemy URL otherwise. :class:`Archive` is
the facade every other part of wpwatch uses; the work is done by

* ``opening``: a path or URL becomes an engine;
* ``migrations``: numbered schema changes, so an old archive opens;
* ``writes``: posts, gone verdicts and degraded-mode posts with their chain links;
* ``rounds``: type states, known posts, rounds, the daemon's schedule;
* ``answers``: the change list and a post's history, in the JSON contract's shape;
* ``codec``: how JSON and raw bodies are stored;
* ``records``: the dataclasses that go in and come out.

Every write that belongs together (a response, the versions it carries and
the changes they cause) happens in one transaction, so a killed process
leaves either all of it or none of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from archive import answers, cluster, codec, fallback_writes, rounds, scoring, writes
from archive import schema as s
from archive.chain import chain_head as _chain_head
from archive.exceptions import ArchiveError
from archive.fallback_writes import FALLBACK_FIELDS
from archive.migrations import SCHEMA_VERSION, migrate
from archive.opening import db_url, locate, open_engine, reason
from archive.records import (
    ChangeEvent,
    ChangeListener,
    Compare,
    KnownPost,
    Outcome,
    PostRecord,
    RawResponse,
    RevisionRecord,
    Scorer,
    TypeState,
)
from archive.scoring import Moved
from core.values import utcnow

__all__ = [
    "FALLBACK_FIELDS",
    "SCHEMA_VERSION",
    "Archive",
    "ChangeEvent",
    "KnownPost",
    "Outcome",
    "PostRecord",
    "RawResponse",
    "TypeState",
    "db_url",
    "utcnow",
]


class Archive:
    """Stores sites, responses, versions, changes and rounds; answers questions."""

    def __init__(self, path_or_url: str) -> None:
        place = locate(path_or_url)
        self.url = place.url
        #: How messages name this archive: its file, or its URL without the password.
        self.label = place.label
        # Called as listener(conn, ChangeEvent) inside the transaction that stores
        # each change, so what they write (the alert outbox) commits with it.
        self.change_listeners: list[ChangeListener] = []
        self.engine: Engine = open_engine(place)
        # the same pool, each statement its own transaction: for a write that is one
        # statement, it saves the round trips of BEGIN and COMMIT
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        try:
            migrate(self.engine, place.label)
        except SQLAlchemyError as exc:  # unreachable server, locked or read-only file, ...
            self.engine.dispose()
            raise ArchiveError(f"cannot open the archive {place.label}: {reason(exc)}") from exc
        except ArchiveError:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    # -- sites --------------------------------------------------------------------
    def site(self, url: str, name: str | None = None) -> dict[str, Any]:
        """The site row for url, created on first use."""
        with self.engine.begin() as conn:
            return rounds.site_row(conn, url, name)

    def find_site(self, url: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return rounds.find_site(conn, url)

    def list_sites(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.sites).order_by(s.sites.c.id)).mappings()
            return [dict(r) for r in rows]

    def set_api_root(self, site_id: int, api_root: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(s.sites).where(s.sites.c.id == site_id).values(api_root=api_root))

    # -- round memory -------------------------------------------------------------
    def save_type_state(self, site_id: int, st: TypeState) -> None:
        with self._changing_memory(site_id) as conn:
            rounds.save_type_state(conn, site_id, st)

    def known_posts(self, site_id: int, type_: str) -> dict[int, KnownPost]:
        with self.engine.connect() as conn:
            return rounds.known_posts(conn, site_id, type_)

    def round_memory(self, url: str) -> rounds.SiteMemory | None:
        """What a round of the site starts from, in one transaction; None: a new site."""
        with self.engine.connect() as conn:
            site = rounds.find_site(conn, url)
            return rounds.memory(conn, site) if site else None

    def begin_round(self, url: str, name: str | None, full: bool,
                    kept: rounds.SiteMemory | None = None,
                    start: cluster.RoundStart | None = None) -> rounds.BegunRound:
        """A node's round opened: `open_round`, `round_memory` (or ``kept`` while
        current), the site's health, and the node's ``start`` record.

        On PostgreSQL, a known site's round starts in one statement
        (`cluster.start_on_known_site`), and its memory is read after only when ``kept``
        is not current. Otherwise (SQLite, a site's first round) in one transaction.
        """
        if start is not None and self.engine.dialect.name == "postgresql":
            with self._autocommit.connect() as conn:
                started = cluster.start_on_known_site(conn, url, full, start)
            if started is not None:
                site = started.site
                memory = rounds.kept_if_current(site, kept)
                if memory is None or rounds.renamed(site, name):
                    with self.engine.begin() as conn:
                        rounds.keep_name(conn, site, name)
                        memory = rounds.memory(conn, site, kept)
                return rounds.BegunRound(memory, site["id"], started.round_id, started.health)
        with self.engine.begin() as conn:
            if start is not None:
                cluster.record_start(conn, url, start)
            return rounds.begin_round(conn, url, name, full, kept)

    @contextlib.contextmanager
    def _changing_memory(self, site_id: int) -> Iterator[Connection]:
        """A transaction that writes to the site's round memory, and moves its version."""
        with self.engine.begin() as conn:
            yield conn
            rounds.memory_changed(conn, site_id)

    def known_revisions(self, site_id: int) -> dict[tuple[str, int], frozenset[tuple[int, str]]]:
        """(type, wp_id) → the (revision id, save time) pairs stored of that post."""
        p, rv = s.posts.c, s.revisions.c
        out: dict[tuple[str, int], set[tuple[int, str]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(
                select(p.type, p.wp_id, rv.wp_revision_id, rv.saved_gmt)
                .join(s.posts, p.id == rv.post_id).where(p.site_id == site_id)
            ):
                out.setdefault((row.type, row.wp_id), set()).add(
                    (row.wp_revision_id, row.saved_gmt))
        return {k: frozenset(v) for k, v in out.items()}

    # -- rounds ---------------------------------------------------------------------
    def start_round(self, site_id: int, full: bool) -> int:
        with self.engine.begin() as conn:
            return rounds.start_round(conn, site_id, full)

    def open_round(self, url: str, name: str | None, full: bool) -> tuple[int, int]:
        """A new round of the site (its row made on first use): (site id, round id)."""
        with self.engine.begin() as conn:
            return rounds.open_round(conn, url, name, full)

    def finish_round(
        self,
        round_id: int,
        *,
        outcome: str,
        requests: int,
        bytes_: int,
        errors: int,
        error: str | None,
        stored_posts: bool = True,
    ) -> dict[str, Any]:
        """Close the round; its record as `round` gives it. ``stored_posts``: False
        when the round stored no posts and no verdicts (so made no changes)."""
        # without posts, one statement: no transaction around it
        engine = self.engine if stored_posts else self._autocommit
        with engine.begin() as conn:
            return rounds.finish_round(conn, round_id, outcome=outcome, requests=requests,
                                       bytes_=bytes_, errors=errors, error=error,
                                       stored_posts=stored_posts)

    def mark_stale_rounds_interrupted(self) -> int:
        """Rounds left 'running' by a killed process are recorded as interrupted."""
        with self.engine.begin() as conn:
            return rounds.mark_stale_rounds_interrupted(conn)

    def round(self, round_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return rounds.round_row(conn, round_id)

    def last_rounds(self) -> dict[int, dict[str, Any]]:
        """The newest round of every site, keyed by site id."""
        with self.engine.connect() as conn:
            return rounds.last_rounds(conn)

    def last_round_with(self, site_id: int, outcome: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return rounds.last_round_with(conn, site_id, outcome)

    def errors_in_a_row(self, site_id: int, limit: int = 20) -> int:
        with self.engine.connect() as conn:
            return rounds.errors_in_a_row(conn, site_id, limit)

    def set_schedule(self, site_url: str, next_due: str | None, next_full_due: str | None) -> None:
        with self.engine.begin() as conn:
            rounds.set_schedule(conn, site_url, next_due, next_full_due)

    def schedules(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return rounds.schedules(conn)

    # -- writes (each one transaction; see archive.writes) ---------------------------------
    def record_posts(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        response: RawResponse,
        records: Iterable[PostRecord],
        baseline: bool,
        compare: Compare,
        type_state: TypeState | None = None,
        scorer: Scorer | None = None,
    ) -> Outcome:
        """Store what is new in one fetched response, with its changes, atomically.

        ``type_state``: the type's new watermarks, committed with these posts or not at all.
        ``scorer``: the site's ignore rules, which each change is scored under.
        """
        with self._changing_memory(site_id) as conn:
            out = writes.record_posts(
                conn, self.change_listeners, site_id=site_id, round_id=round_id, type_=type_,
                response=response, records=records, baseline=baseline, compare=compare,
                scorer=scorer,
            )
            if type_state is not None:
                rounds.save_type_state(conn, site_id, type_state)
            return out

    def record_gone(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        wp_id: int,
        kind: str,
        response: RawResponse,
        type_state: TypeState | None = None,
    ) -> Outcome:
        """A published post answered 404 (deleted) or 401/403 (unpublished).

        ``type_state``: the type's new watermarks, committed with the verdict or not at all.
        """
        with self._changing_memory(site_id) as conn:
            out = writes.record_gone(
                conn, self.change_listeners, site_id=site_id, round_id=round_id, type_=type_,
                wp_id=wp_id, kind=kind, response=response,
            )
            if type_state is not None:
                rounds.save_type_state(conn, site_id, type_state)
            return out

    def record_revisions(
        self, *, site_id: int, type_: str, wp_id: int, revisions: Iterable[RevisionRecord]
    ) -> int:
        """Revisions WordPress saved of one post, as versions in the chain (one transaction)."""
        with self.engine.begin() as conn:
            return writes.record_revisions(conn, site_id=site_id, type_=type_, wp_id=wp_id,
                                           revisions=revisions)

    def record_fallback_posts(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        response: RawResponse,
        records: Iterable[PostRecord],
        baseline: bool,
    ) -> Outcome:
        """Posts that degraded mode found (feed item or post page): only unknown ones."""
        with self._changing_memory(site_id) as conn:
            return fallback_writes.record_fallback_posts(
                conn, self.change_listeners, site_id=site_id, round_id=round_id, type_=type_,
                response=response, records=records, baseline=baseline,
            )

    def record_over_fallback(
        self,
        *,
        site_id: int,
        round_id: int | None,
        type_: str,
        response: RawResponse,
        records: Iterable[PostRecord],
        compare: Compare,
    ) -> Outcome:
        """The first REST versions of posts whose current version degraded mode made."""
        with self._changing_memory(site_id) as conn:
            return fallback_writes.record_over_fallback(
                conn, self.change_listeners, site_id=site_id, round_id=round_id, type_=type_,
                response=response, records=records, compare=compare,
            )

    def mark_fallback_seen(self, site_id: int, urls: Iterable[str]) -> int:
        """Remember URLs seen by degraded mode (idempotent); how many were new."""
        with self._changing_memory(site_id) as conn:
            return fallback_writes.mark_fallback_seen(conn, site_id, urls)

    # -- degraded mode (REST API closed): what it needs to know --------------------------
    def fallback_made(self, site_id: int, type_: str, wp_ids: Iterable[int]) -> set[int]:
        """Those of wp_ids whose current version was made by degraded mode, not by REST."""
        ids = list(wp_ids)
        if not ids:
            return set()
        p, v = s.posts.c, s.versions.c
        out: set[int] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(p.wp_id, v.normalized)
                    .join(s.versions, v.id == p.current_version_id)
                    .where(p.site_id == site_id, p.type == type_,
                           p.wp_id.in_(ids[start : start + 500]))
                )
                out |= {r.wp_id for r in rows if codec.unpack(r.normalized).get("source")}
        return out

    # -- questions ----------------------------------------------------------------------
    def changes(
        self,
        *,
        since: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        with_noise: bool = False,
    ) -> list[dict[str, Any]]:
        """Change records in the JSON contract's shape, oldest first (`answers.changes`)."""
        with self.engine.connect() as conn:
            return answers.changes(conn, since=since, site=site, kind=kind, limit=limit,
                                   with_noise=with_noise)

    def rescore(
        self,
        rules_of: Callable[[str], Scorer | None],
        *,
        site: str | None = None,
        since: str | None = None,
    ) -> tuple[int, list[Moved]]:
        """Score stored changes again under today's rules, in one transaction.

        Writes only the scoring columns of change rows (archive.scoring): never a
        version, a response or a chain link. (changes looked at, those that moved).
        """
        with self.engine.begin() as conn:
            return scoring.rescore(conn, rules_of, site=site, since=since)

    def history(self, site_url: str, type_: str, wp_id: int) -> dict[str, Any] | None:
        """A post and all its stored versions, oldest first (`answers.history`)."""
        with self.engine.connect() as conn:
            return answers.history(conn, site_url, type_, wp_id)

    def chain_head(self, site_id: int) -> tuple[int, str] | None:
        """(seq, chain_hash) of the site's newest chain link, None before its first record."""
        with self.engine.connect() as conn:
            return _chain_head(conn, site_id)

    def response_body(self, response_id: int) -> bytes:
        """The raw bytes of a stored response, as received."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(s.responses.c.body).where(s.responses.c.id == response_id)
            ).one()
            return codec.unpack_body(row.body)
