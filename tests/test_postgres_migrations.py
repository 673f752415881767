"""An archive from before watch health migrates on both engines: on SQLite the alerts
table is rebuilt (rows and ids kept), on PostgreSQL it is altered in place; either way
it ends with the tables, keys and indexes of a new archive, and health alerts queue."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from alerts.health import HealthEvent
from alerts.outbox import Outbox
from alerts.rules import Route
from archive import Archive, schema
from archive import rounds as r
from archive.migrations import MIGRATIONS, SCHEMA_VERSION, add_watch_health
from tests.postgres import PostgresServer
from tests.test_postgres_archive import assert_verifies, one_round

#: The schema the health migration starts from.
BEFORE_HEALTH = next(m.version for m in MIGRATIONS if m.apply is add_watch_health) - 1
#: What the later migrations add, taken away again to make an archive of BEFORE_HEALTH.
LATER_COLUMNS = {"versions": "post_seq", "changes": "post_seq"}


@pytest.fixture
def fresh_url(archive_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second, new archive on the same engine as ``archive_url``."""
    if "://" not in archive_url:
        yield str(tmp_path / "fresh.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


def outbox() -> Outbox:
    return Outbox([Route(channel="desk", sites=("*",))])


def shape(conn: Connection) -> dict[str, Any]:
    """Every table's columns (with NULL or NOT NULL), unique keys, foreign keys, indexes."""
    inspector = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        out[table] = (
            sorted((c["name"], c["nullable"]) for c in inspector.get_columns(table)),
            sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            sorted((tuple(f["constrained_columns"]), f["referred_table"])
                   for f in inspector.get_foreign_keys(table)),
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                   for i in inspector.get_indexes(table)),
        )
    return out


def make_it_older(a: Archive) -> None:
    """What the wpwatch before watch health left: alerts only of changes, no health tables."""
    with a.engine.begin() as conn:
        for table, column in LATER_COLUMNS.items():
            conn.execute(text(f"DROP INDEX ux_{table}_{column}"))
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE rounds ALTER COLUMN bytes TYPE INTEGER"))
            conn.execute(text("ALTER TABLE alerts DROP COLUMN event_id"))  # and its unique key
            conn.execute(text("ALTER TABLE alerts ALTER COLUMN change_id SET NOT NULL"))
        else:
            ddl = conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
            )).scalar_one()
            older = (ddl.replace("change_id INTEGER,", "change_id INTEGER NOT NULL,")
                     .replace("\tevent_id INTEGER, \n", "")
                     .replace("\tUNIQUE (channel, event_id), \n", "")
                     .replace("\tFOREIGN KEY(event_id) REFERENCES health_events (id), \n", ""))
            assert "event_id" not in older and "change_id INTEGER NOT NULL" in older
            columns = ", ".join(c.name for c in schema.alerts.columns if c.name != "event_id")
            conn.execute(text("ALTER TABLE alerts RENAME TO alerts_newer"))
            conn.execute(text("DROP INDEX ix_alerts_pending"))
            conn.execute(text(older))
            conn.execute(text(f"INSERT INTO alerts ({columns}) SELECT {columns} FROM alerts_newer"))
            conn.execute(text("DROP TABLE alerts_newer"))
            conn.execute(text("CREATE INDEX ix_alerts_pending ON alerts (status, next_attempt_at)"))
        conn.execute(text("DROP TABLE health_events"))
        conn.execute(text("DROP TABLE site_health"))
        conn.execute(text("DELETE FROM schema_version"))
        conn.execute(insert(schema.schema_version).values(version=BEFORE_HEALTH,
                                                           applied_at="2026-01-01"))


def test_an_archive_from_before_watch_health_migrates(archive_url: str, fresh_url: str) -> None:
    a = Archive(archive_url)
    a.change_listeners.append(outbox().on_change)
    site = a.site("https://x.org")["id"]
    one_round(a, site, {1: "a", 2: "b"})
    one_round(a, site, {1: "a2", 2: "b"}, gone=(2,))
    with a.engine.connect() as conn:
        alerts_before = conn.execute(select(schema.alerts).order_by(schema.alerts.c.id)).all()
    assert len(alerts_before) == 4  # two new, one edited, one deleted
    make_it_older(a)
    a.close()
    if "://" not in archive_url:  # the file really has the older table now
        with sqlite3.connect(archive_url) as db:
            assert "event_id" not in {row[1] for row in db.execute("PRAGMA table_info(alerts)")}

    b = Archive(archive_url)  # the health migration and every later one run here
    fresh = Archive(fresh_url)
    try:
        with b.engine.connect() as conn, fresh.engine.connect() as new:
            assert conn.execute(select(func.max(schema.schema_version.c.version))).scalar() \
                == SCHEMA_VERSION
            assert shape(conn) == shape(new)
            alerts_after = conn.execute(select(schema.alerts).order_by(schema.alerts.c.id)).all()
        assert alerts_after == alerts_before  # rows and ids kept, none points at an event
        assert_verifies(b)

        round_id = b.start_round(site, full=True)
        with b.engine.begin() as conn:  # a health alert: an event, no change
            event_id = r.record_health_event(
                conn, site, kind="site-failing", state="failing", round_id=round_id,
                since="2026-01-01T00:00:00.000Z", rounds=3, reason="connection refused")
            assert event_id is not None
            outbox().on_health(conn, HealthEvent(event_id, site, "https://x.org", round_id,
                                                 "site-failing"))
        with b.engine.connect() as conn:
            row = dict(conn.execute(select(schema.alerts).where(
                schema.alerts.c.event_id == event_id)).mappings().one())
        assert row["change_id"] is None and row["channel"] == "desk"
        row.pop("id")
        with pytest.raises(IntegrityError), b.engine.begin() as conn:  # once per route
            conn.execute(insert(schema.alerts).values(**row))
        one_round(b, site, {1: "a3", 2: "b"})  # and the numbering goes on after the rows kept
        with b.engine.connect() as conn:
            v = schema.versions.c
            assert conn.execute(select(func.max(v.post_seq))).scalar() == 3
        assert_verifies(b)
    finally:
        b.close()
        fresh.close()

