"""Schema changes, numbered and named, each run in its own transaction.

A new archive gets every table at once (``schema.metadata``) and is stamped
with :data:`SCHEMA_VERSION`. An older archive gets, in order, every migration
newer than the highest number in its ``schema_version`` table, each with the
row that records it, so an archive made by any earlier wpwatch opens. To change
the schema: change ``schema.py`` and append one function to :data:`MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, func, insert, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateColumn

from archive import schema as s
from archive.chain import chain_unlinked
from core.exceptions import ArchiveError
from core.values import utcnow


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def add_schedule(conn: Connection) -> None:
    """The daemon's schedule, for `wpwatch status`."""
    s.schedule.create(conn, checkfirst=True)


def add_hash_chain(conn: Connection) -> None:
    """The per-site hash chain, linking every record stored so far."""
    s.chain_links.create(conn, checkfirst=True)
    s.chain_stamps.create(conn, checkfirst=True)
    chain_unlinked(conn, utcnow())


def add_alert_outbox(conn: Connection) -> None:
    """The alert outbox."""
    s.alerts.create(conn, checkfirst=True)


def add_fallback_seen(conn: Connection) -> None:
    """URLs that degraded mode (REST API closed) saw in the feed and sitemaps."""
    s.fallback_seen.create(conn, checkfirst=True)


def add_working_notes(conn: Connection) -> None:
    """The review workspace: accounts, tokens, triage, labels, notes, audit log, its index."""
    for table in (s.users, s.api_tokens, s.triage, s.change_labels, s.notes, s.audit_log,
                  s.review_index):
        table.create(conn, checkfirst=True)


def add_ignore_rules(conn: Connection) -> None:
    """Ignore rules: each change's verdict under the rule set it was scored under."""
    s.rule_sets.create(conn, checkfirst=True)
    have = {c["name"] for c in inspect(conn).get_columns("changes")}
    for column in ("verdict", "scored_fields", "noise_rules", "ruleset"):
        if column not in have:
            kind = s.changes.c[column].type.compile(conn.dialect)
            conn.execute(text(f"ALTER TABLE changes ADD COLUMN {column} {kind}"))


def add_revisions(conn: Connection) -> None:
    """Own sites: revisions WordPress saved (author, time), and which responses were
    fetched with a login (``responses.authenticated``)."""
    columns = {c["name"] for c in inspect(conn).get_columns("responses")}
    if "authenticated" not in columns:  # (an archive rebuilt from newer tables has it)
        conn.execute(text(
            "ALTER TABLE responses ADD COLUMN authenticated BOOLEAN NOT NULL DEFAULT false"
        ))
    s.revisions.create(conn, checkfirst=True)


def add_watch_health(conn: Connection) -> None:
    """Watch health: each site's episode, its events, and alerts that point at an event."""
    s.site_health.create(conn, checkfirst=True)
    s.health_events.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE alerts ALTER COLUMN change_id DROP NOT NULL")
        conn.exec_driver_sql(
            "ALTER TABLE alerts ADD COLUMN event_id INTEGER REFERENCES health_events (id)"
        )
        conn.exec_driver_sql(
            "ALTER TABLE alerts ADD CONSTRAINT alerts_channel_event_id_key "
            "UNIQUE (channel, event_id)"
        )
        return
    # SQLite cannot drop a NOT NULL: the table is rebuilt, rows and ids kept.
    columns = ", ".join(c.name for c in s.alerts.columns if c.name != "event_id")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_alerts_pending")
    conn.exec_driver_sql("ALTER TABLE alerts RENAME TO alerts_before_health")
    s.alerts.create(conn)
    conn.exec_driver_sql(
        f"INSERT INTO alerts ({columns}) SELECT {columns} FROM alerts_before_health"
    )
    conn.exec_driver_sql("DROP TABLE alerts_before_health")


def add_review_search(conn: Connection) -> None:
    """The review queue: state-first indexes for the triage views, and on SQLite a full-text
    index (FTS5) of the review index's text, filled from the rows indexed so far."""
    for index in (s.ix_review_index_state_priority, s.ix_review_index_state_detected):
        index.create(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        conn.execute(text(s.REVIEW_FTS_DDL))
        conn.execute(text(f"INSERT INTO {s.REVIEW_FTS}({s.REVIEW_FTS}) VALUES ('rebuild')"))


def ready_for_postgres(conn: Connection) -> None:
    """Number each post's versions and changes (1, 2, 3 … in write order) under unique
    keys, so that a round run twice, even at once on two machines, stores nothing twice;
    and give a round's byte count 64 bits (PostgreSQL's INTEGER has 32; SQLite's has 64)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE rounds ALTER COLUMN bytes TYPE BIGINT")
    for table, index in ((s.versions, "ux_versions_post_seq"), (s.changes, "ux_changes_post_seq")):
        if not add_column(conn, table, "post_seq"):
            continue  # numbered already
        earlier = table.alias("earlier")
        conn.execute(update(table).values(post_seq=(
            select(func.count())
            .where(earlier.c.post_id == table.c.post_id, earlier.c.id <= table.c.id)
            .scalar_subquery()
        )))
        next(i for i in table.indexes if i.name == index).create(conn)


def add_cluster(conn: Connection) -> None:
    """Several nodes on one archive: the published config, the nodes' heartbeats, round
    start times, and the indexes the dispatcher's "what is due now?" needs."""
    for table in (s.cluster_config, s.cluster_nodes, s.round_starts):
        table.create(conn, checkfirst=True)
    for index in s.schedule.indexes:
        index.create(conn, checkfirst=True)


def add_memory_version(conn: Connection) -> None:
    """A version of each site's round memory, so a node can keep it between rounds."""
    add_column(conn, s.sites, "memory_version")


def add_column(conn: Connection, table: Table, name: str) -> bool:
    """ALTER TABLE … ADD COLUMN, the column as ``schema.py`` declares it, in the
    database's own dialect; False when the table has it already."""
    if name in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        return False
    column = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column}")
    return True


#: Every schema change after the first, oldest first; version 1 is the original tables.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "schedule", add_schedule),
    Migration(3, "hash chain", add_hash_chain),
    Migration(4, "alert outbox", add_alert_outbox),
    Migration(5, "degraded-mode URLs", add_fallback_seen),
    Migration(6, "working notes", add_working_notes),
    Migration(7, "ignore rules", add_ignore_rules),
    Migration(8, "revisions and authenticated responses", add_revisions),
    Migration(9, "watch health", add_watch_health),
    Migration(10, "review search", add_review_search),
    Migration(11, "re-runnable rounds, 64-bit byte counts", ready_for_postgres),
    Migration(12, "several nodes", add_cluster),
    Migration(13, "round memory version", add_memory_version),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: Connection) -> int:
    """The archive's schema number; 0 for a database without wpwatch tables yet."""
    return conn.execute(select(func.max(s.schema_version.c.version))).scalar() or 0


def newer_than_this_wpwatch(found: int) -> str:
    return (
        f"was written by a newer wpwatch (archive schema {found}, this wpwatch reads up to "
        f"{SCHEMA_VERSION}): upgrade wpwatch"
    )


def migrate(engine: Engine, label: str) -> None:
    """Bring the archive at ``engine`` to :data:`SCHEMA_VERSION`; ``label`` names it in errors."""
    with engine.begin() as conn:
        s.schema_version.create(conn, checkfirst=True)
        current = schema_version(conn)
        if current > SCHEMA_VERSION:
            raise ArchiveError(f"{label} {newer_than_this_wpwatch(current)}")
        if current == 0:  # a new archive: every table at once
            s.metadata.create_all(conn)
            _stamp(conn, SCHEMA_VERSION)
            return
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        with engine.begin() as conn:
            if schema_version(conn) >= migration.version:
                continue  # another process applied it meanwhile
            migration.apply(conn)
            _stamp(conn, migration.version)


def _stamp(conn: Connection, version: int) -> None:
    conn.execute(insert(s.schema_version).values(version=version, applied_at=utcnow()))
