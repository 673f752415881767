"""Idempotent archive writes, on SQLite and PostgreSQL: a round stored twice stores nothing
twice, the database refuses a step of a post's history written twice, and a round re-run by a
second writer while the first is still writing waits for it and then stores nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from alerts.outbox import Outbox
from alerts.rules import Route
from archive import Archive, PostRecord, schema
from archive.migrations import MIGRATIONS, SCHEMA_VERSION, ready_for_postgres
from archive.records import RevisionRecord
from archive.scoring import save_rule_set
from archive.verify import verify_archive
from diffs.ignore import IgnoreRules
from diffs.normalize import content_hash
from tests.postgres import wait_for_lock_wait
from tests.test_archive import diff, resp

#: Tables a round writes to, whose row counts must not move when the round runs again.
WRITTEN = ("responses", "posts", "versions", "changes", "chain_links", "alerts")


@pytest.fixture
def archive(archive_url: str) -> Iterator[Archive]:
    a = Archive(archive_url)
    # every change alerted on one route, in the change's transaction, as `wpwatch crawl` does
    a.change_listeners.append(Outbox([Route(channel="desk", sites=("*",))]).on_change)
    yield a
    a.close()


def counts(a: Archive) -> dict[str, int]:
    with a.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(schema.metadata.tables[name]))
                .scalar_one() for name in WRITTEN}


def rec(wp_id: int, text: str) -> PostRecord:
    norm = {"title": f"T{wp_id}", "text": [text]}
    return PostRecord(wp_id, 0, norm, content_hash(norm), "2026-01-01T00:00:00",
                      "2025-01-01T00:00:00", f"https://x.org/{wp_id}/", f"T{wp_id}", 1)


def assert_verifies(a: Archive) -> None:
    reports = verify_archive(a)
    assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]


def one_round(a: Archive, site: int, texts: dict[int, str], gone: tuple[int, ...] = ()) -> None:
    """What a round of the site stores: every listed post, then the posts that answered 404."""
    a.record_posts(site_id=site, round_id=None, type_="posts", response=resp(),
                   records=[rec(i, t) for i, t in texts.items()], baseline=False, compare=diff)
    for wp_id in gone:
        a.record_gone(site_id=site, round_id=None, type_="posts", wp_id=wp_id, kind="deleted",
                      response=resp(b'{"code":"rest_post_invalid_id"}', 404))


def test_a_round_stored_twice_stores_nothing_twice(archive: Archive) -> None:
    site = archive.site("https://x.org", "x")["id"]
    archive.record_posts(site_id=site, round_id=None, type_="posts", response=resp(),
                         records=[rec(1, "a"), rec(2, "b"), rec(3, "c")], baseline=True,
                         compare=diff)
    one_round(archive, site, {1: "a2", 3: "c", 4: "d"}, gone=(2,))  # edited, new, deleted
    after_first = counts(archive)
    assert after_first["changes"] == 3 and after_first["alerts"] == 3

    one_round(archive, site, {1: "a2", 3: "c", 4: "d"}, gone=(2,))  # the same round again
    assert counts(archive) == after_first

    one_round(archive, site, {1: "a", 2: "b", 3: "c", 4: "d"})  # reverted and restored
    one_round(archive, site, {1: "a", 2: "b", 3: "c", 4: "d"})
    again = counts(archive)
    assert (again["versions"], again["changes"], again["alerts"]) == (6, 5, 5)
    assert_verifies(archive)
    with archive.engine.connect() as conn:  # a revert to earlier content is a step of its own
        v = schema.versions.c
        seqs = conn.execute(select(v.post_seq).join(schema.posts).where(
            schema.posts.c.wp_id == 1).order_by(v.id)).scalars().all()
    assert seqs == [1, 2, 3]


def test_saved_revisions_are_numbered_with_the_polled_versions_and_stored_once(
    archive: Archive,
) -> None:
    """An own site's revisions are versions too: each takes the post's next number, under
    the site's lock, and a round that reads them again stores nothing."""
    site = archive.site("https://x.org")["id"]
    archive.record_posts(site_id=site, round_id=None, type_="posts", response=resp(),
                         records=[rec(1, "a")], baseline=True, compare=diff)
    saved = [RevisionRecord(40 + n, rec(1, f"draft {n}"), resp(b'{"id":%d}' % (40 + n)),
                            f"2026-01-01T00:0{n}:00", 2, "alice") for n in (1, 2)]
    assert archive.record_revisions(site_id=site, type_="posts", wp_id=1, revisions=saved) == 2
    before = counts(archive)
    assert archive.record_revisions(site_id=site, type_="posts", wp_id=1, revisions=saved) == 0
    assert counts(archive) == before
    one_round(archive, site, {1: "a2"})  # the poll after the saves
    with archive.engine.connect() as conn:
        v, c = schema.versions.c, schema.changes.c
        seqs = conn.execute(select(v.post_seq).order_by(v.id)).scalars().all()
        assert conn.execute(select(c.post_seq)).scalars().all() == [1]
    assert seqs == [1, 2, 3, 4]
    assert_verifies(archive)


@pytest.mark.parametrize("table", ["versions", "changes"])
def test_the_database_refuses_a_step_of_a_post_written_twice(archive: Archive, table: str) -> None:
    site = archive.site("https://x.org")["id"]
    one_round(archive, site, {1: "a"})
    target = schema.metadata.tables[table]
    with archive.engine.begin() as conn:
        row = dict(conn.execute(select(target)).mappings().one())
        del row["id"]
        if table == "versions":  # the same content out of another response: only post_seq repeats
            response = dict(conn.execute(select(schema.responses)).mappings().one())
            del response["id"]
            row["response_id"] = conn.execute(
                insert(schema.responses).values(**response)).inserted_primary_key[0]
    with pytest.raises(IntegrityError), archive.engine.begin() as conn:
        conn.execute(insert(target).values(**row))
    with archive.engine.begin() as conn:  # the next step of the post is accepted
        conn.execute(insert(target).values(**row | {"post_seq": row["post_seq"] + 1}))


def test_an_alert_is_queued_once_per_change_and_route(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    one_round(archive, site, {1: "a"})
    with archive.engine.connect() as conn:
        row = dict(conn.execute(select(schema.alerts)).mappings().one())
    row.pop("id")
    with pytest.raises(IntegrityError), archive.engine.begin() as conn:
        conn.execute(insert(schema.alerts).values(**row))


def test_an_archive_from_before_the_numbering_gets_its_posts_numbered(archive_url: str) -> None:
    before = next(m.version for m in MIGRATIONS if m.apply is ready_for_postgres) - 1
    a = Archive(archive_url)
    site = a.site("https://x.org")["id"]
    a.record_posts(site_id=site, round_id=None, type_="posts", response=resp(),
                   records=[rec(1, "a"), rec(2, "b")], baseline=True, compare=diff)
    one_round(a, site, {1: "a2", 2: "b"})
    one_round(a, site, {1: "a3", 2: "b"}, gone=(2,))
    one_round(a, site, {1: "a3", 2: "b"})
    with a.engine.begin() as conn:  # what the wpwatch before the numbering left
        for table in ("versions", "changes"):
            conn.execute(text(f"DROP INDEX ux_{table}_post_seq"))
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN post_seq"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE rounds ALTER COLUMN bytes TYPE INTEGER"))
        conn.execute(text("DELETE FROM schema_version"))
        conn.execute(insert(schema.schema_version).values(version=before,
                                                           applied_at="2026-01-01"))
    a.close()

    b = Archive(archive_url)  # the migration runs here
    try:
        with b.engine.connect() as conn:
            assert conn.execute(select(func.max(schema.schema_version.c.version))).scalar() \
                == SCHEMA_VERSION
            for table in ("versions", "changes"):
                t = schema.metadata.tables[table]
                rows = conn.execute(select(schema.posts.c.wp_id, t.c.post_seq)
                                    .join(schema.posts).order_by(t.c.id)).all()
                by_post: dict[int, list[int]] = {}
                for wp_id, seq in rows:
                    by_post.setdefault(wp_id, []).append(seq)
                assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_post.values())
                indexes = {i["name"]: i["unique"] for i in inspect(conn).get_indexes(table)}
                assert indexes[f"ux_{table}_post_seq"]
        assert by_post == {1: [1, 2], 2: [1, 2]}  # changes: post 1 edited twice; 2 gone, back
        round_id = b.start_round(site, full=True)  # 32 bits were not enough for this
        b.finish_round(round_id, outcome="ok", requests=1, bytes_=5_000_000_000, errors=0,
                       error=None)
        one_round(b, site, {1: "a4", 2: "b"})  # and the numbering goes on from there
        with b.engine.connect() as conn:
            v = schema.versions.c
            assert conn.execute(select(func.max(v.post_seq))).scalar() == 4
        assert_verifies(b)
    finally:
        b.close()


def test_a_round_of_more_than_2_gb_is_recorded(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    round_id = archive.start_round(site, full=True)
    archive.finish_round(round_id, outcome="ok", requests=90_000, bytes_=5_000_000_000,
                         errors=0, error=None)
    assert archive.round(round_id)["bytes"] == 5_000_000_000


def test_a_round_rerun_while_the_first_run_writes_waits_and_stores_nothing(
    postgres_url: str,
) -> None:
    """Two nodes running one site's round at once (an at-least-once job queue re-ran it):
    the second writer waits on the site's lock, then sees the first one's versions."""
    errors = race_two_writers(postgres_url)
    assert errors == []


def test_without_the_site_lock_the_unique_keys_still_refuse_the_double(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys are the net under the lock: two writers that both decided from the same
    moment claim the same step, and the second one is refused and stores nothing."""
    monkeypatch.setattr("archive.chain.ChainWriter.lock_site", lambda self: None)
    errors = race_two_writers(postgres_url)
    assert [type(e) for e in errors] == [IntegrityError]
    assert "ux_versions_post_seq" in str(errors[0])


def race_two_writers(postgres_url: str) -> list[BaseException]:
    """The first writer stops mid-transaction (in compare), the second writes the same
    edit until it waits on a lock the first holds; then the first goes on. Whatever
    happens, the edit is stored once; the errors the writers met are returned."""
    first, second = Archive(postgres_url), Archive(postgres_url)
    site = first.site("https://x.org")["id"]
    first.record_posts(site_id=site, round_id=None, type_="posts", response=resp(),
                       records=[rec(1, "a")], baseline=True, compare=diff)
    inside, release = threading.Event(), threading.Event()

    def slow_compare(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        inside.set()  # the first writer is mid-transaction, its version not committed
        assert release.wait(60)
        return diff(old, new)

    def write(a: Archive, compare: Any) -> None:
        a.record_posts(site_id=site, round_id=None, type_="posts", response=resp(),
                       records=[rec(1, "a2")], baseline=False, compare=compare)

    errors: list[BaseException] = []

    def run(a: Archive, compare: Any) -> None:
        try:
            write(a, compare)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    t1 = threading.Thread(target=run, args=(first, slow_compare))
    t1.start()
    assert inside.wait(60)
    t2 = threading.Thread(target=run, args=(second, diff))
    t2.start()
    wait_for_lock_wait(first.engine, "the second writer to wait on a lock of the first")
    release.set()
    t1.join(60)
    t2.join(60)
    assert counts(first)["versions"] == 2 and counts(first)["changes"] == 1
    assert_verifies(first)
    first.close()
    second.close()
    return errors


def test_two_sites_storing_the_same_new_rule_set_at_once_both_commit(postgres_url: str) -> None:
    """Rule sets are shared by sites, which do not share a lock: the second insert of the
    same rule set waits for the first and then does nothing, instead of failing its round."""
    a, b = Archive(postgres_url), Archive(postgres_url)  # two nodes, a connection each
    rules = IgnoreRules.from_table({"patterns": [r"Views: \d+"]})
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with b.engine.begin() as conn:
                save_rule_set(conn, rules)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with a.engine.connect() as first:
        with first.begin():
            save_rule_set(first, rules)  # not committed yet
            thread = threading.Thread(target=second)
            thread.start()
            wait_for_lock_wait(a.engine, "the second insert to wait on the first")
        thread.join(60)
    assert errors == []
    with a.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.rule_sets)).scalar() == 1
    a.close()
    b.close()
