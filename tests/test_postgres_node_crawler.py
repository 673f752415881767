"""A node's one long-lived crawler, seen from outside: a real `wpwatch run` process.

A node runs every round on one Scrapy crawler kept open; these tests show from the
demo server's own request log that rounds still obey robots.txt, read it again
once it is older than WPWATCH_ROBOTSTXT_MAX_AGE, and count their own requests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import schema as s
from core.values import parse_iso
from tests.test_postgres_nodes import Cluster, cluster  # noqa: F401  (the fixture)
from tests.waiting import wait_until
from wpwatch.demo import DemoSite

pytestmark = pytest.mark.slow
FORBIDDEN = "User-agent: *\nDisallow: /wp-json/\n"


def one_site_node(cluster: Cluster, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                  settings: str) -> tuple[DemoSite, subprocess.Popen[bytes]]:
    """One quiet demo site polled every second by one node run with WPWATCH_SETTINGS."""
    monkeypatch.setenv("WPWATCH_SETTINGS", settings)
    cluster.add_sites(1, latency=0.0)
    (site,) = cluster.sites.values()
    cluster.write_config("1s")
    return site, cluster.start_node()


def test_one_crawler_reads_robots_txt_again_when_old_and_counts_each_round(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    site, node = one_site_node(cluster, monkeypatch, "WPWATCH_ROBOTSTXT_MAX_AGE=4")

    def robots_reads() -> int:
        return sum(1 for _m, target, _s, _b in site.request_log if target == "/robots.txt")

    wait_until("six rounds", lambda: len(cluster.rounds()) >= 6, 60)
    site.robots_txt = FORBIDDEN  # the next read of it, at most 4 s on, forbids the API
    refused = wait_until("a round refused by robots.txt", lambda: [
        r for r in cluster.rounds() if "forbidden by robots.txt" in (r["error"] or "")], 30)
    assert refused[0]["outcome"] == "failed"
    site.robots_txt = None
    seen = len(cluster.rounds())
    wait_until("rounds allowed again", lambda: any(
        r["outcome"] == "ok" for r in cluster.rounds()[seen:]), 30)
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0, cluster.log(node)

    rounds = cluster.rounds()
    assert all(r["outcome"] in ("ok", "failed") for r in rounds), rounds
    # robots.txt was read when the node first polled the site and again when it was old,
    # not once a round ...
    assert 3 <= robots_reads() < len(rounds) / 2, (robots_reads(), len(rounds))
    # ... and every request the server saw is counted in exactly one round's record
    assert sum(r["requests"] for r in rounds) == len(site.request_log)
    quiet = [r["requests"] for r in rounds[1:] if r["outcome"] == "ok"]
    # 3 listings per type; robots.txt; the types listing read by the first round only
    assert set(quiet) <= {6, 7} and 6 in quiet, quiet


def test_a_site_that_stops_answering_holds_its_round_no_longer_than_the_budget(
    cluster: Cluster,  # noqa: F811
) -> None:
    cluster.add_sites(1, latency=0.0)
    (site,) = cluster.sites.values()
    cluster.write_config("1s", extra='round_timeout = "2s"')
    node = cluster.start_node()
    wait_until("a baseline", lambda: any(r["outcome"] == "ok" for r in cluster.rounds()), 60)
    site.latency = 30.0  # every answer now comes long after the round's budget

    def cut_rounds() -> list[dict[str, Any]] | None:
        rs = [r for r in cluster.rounds() if r["outcome"] == "interrupted"]
        return rs if len(rs) >= 3 else None

    cut = wait_until("three rounds cut at their budget", cut_rounds, 60)
    site.latency = 0.0
    seen = len(cluster.rounds())
    wait_until("a round that ends by itself again", lambda: any(
        r["outcome"] == "ok" for r in cluster.rounds()[seen:]), 60)
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0, cluster.log(node)
    for r in cut:  # each ended at its budget, with the reason, and let the next one start
        took = parse_iso(r["finished_at"]) - parse_iso(r["started_at"])
        assert took.total_seconds() < 2 + 3, r
        assert "budget ran out" in (r["error"] or ""), r


def sockets_of(pid: int) -> int:
    """Open sockets of a process (its database connections included)."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd).startswith("socket:")
    return count


def test_a_node_closes_idle_connections_to_sites_between_rounds(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("WPWATCH_SETTINGS", "WPWATCH_IDLE_CONNECTION_TIMEOUT=2")
    cluster.add_sites(40, latency=0.0)
    cluster.write_config("1h")  # one round of each site, then nothing for an hour
    node = cluster.start_node("--concurrency", "16")
    wait_until("every site's first round", lambda: sum(
        1 for r in cluster.rounds() if r["outcome"] == "ok") == 40, 90)
    # a connection to each of the 40 sites was open for its round; once idle for 2 s
    # they close, leaving the node's database connections
    wait_until("the idle connections to the sites closed",
               lambda: sockets_of(node.pid) < 20, 30)
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0, cluster.log(node)


def test_nodes_keep_site_memories_and_read_them_again_after_another_node_wrote(
    cluster: Cluster  # noqa: F811
) -> None:
    """Each node keeps a site's memory between rounds; when the other node's round
    records a change, the next round on either node starts from the new memory: it is
    quiet (6 requests: 3 listings a type, the types listing kept), never a sweep for a
    post it still thinks published."""
    cluster.add_sites(1, latency=0.0)
    (site,) = cluster.sites.values()
    cluster.write_config("1s")
    nodes = [cluster.start_node(), cluster.start_node()]

    def starts_by_node(since: str) -> dict[str, int]:
        with cluster.open().engine.connect() as conn:
            rows = conn.execute(select(s.round_starts.c.node, func.count())
                                .where(s.round_starts.c.started_at > since)
                                .group_by(s.round_starts.c.node)).all()
        return {node: count for node, count in rows}

    def rounds_of_both_nodes_since(since: str) -> bool:
        counts = starts_by_node(since)
        return len(counts) == 2 and min(counts.values()) >= 2

    wait_until("both nodes' rounds", lambda: rounds_of_both_nodes_since(""), 90)
    first, second = site.ids("post", "publish")[:2]
    site.edit(first, title="Edited while two nodes watch")
    wait_until("the edit recorded", lambda: changes(cluster) == [(first, "edited")], 30)
    site.delete(second)
    wait_until("the deletion recorded", lambda: len(changes(cluster)) == 2, 30)
    after = max(r["finished_at"] for r in cluster.rounds() if r["finished_at"])
    wait_until("both nodes' rounds since", lambda: rounds_of_both_nodes_since(after), 60)
    for node in nodes:
        node.send_signal(signal.SIGTERM)
    for node in nodes:
        assert node.wait(60) == 0, cluster.log(node)

    assert changes(cluster) == [(first, "edited"), (second, "deleted")]
    later = [r for r in cluster.rounds() if r["started_at"] > after and r["outcome"] == "ok"]
    assert len(later) >= 4
    assert {r["requests"] for r in later} == {6}, [r["requests"] for r in later]


def changes(watched: Cluster) -> list[tuple[int, str]]:
    return [(c["wp_id"], c["kind"]) for c in watched.open().changes()]


def test_a_node_judges_watch_health_once_each_way(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """A node knows a healthy site's health from its round's opening and reads nothing
    more after an ok round; a site that fails three rounds in a row is judged failing
    once, and recovered once when it answers again."""
    site, node = one_site_node(cluster, monkeypatch, "WPWATCH_ROBOTSTXT_MAX_AGE=1")

    def ok_rounds() -> int:
        return sum(1 for r in cluster.rounds() if r["outcome"] == "ok")

    wait_until("three ok rounds", lambda: ok_rounds() >= 3, 60)
    assert health_events(cluster) == []
    site.robots_txt = FORBIDDEN  # every round fails once the rules are read again
    wait_until("the site judged failing", lambda: health_events(cluster) == ["site-failing"], 60)
    site.robots_txt = None
    wait_until("the site judged recovered",
               lambda: health_events(cluster) == ["site-failing", "site-recovered"], 60)
    seen = ok_rounds()
    wait_until("three more ok rounds", lambda: ok_rounds() >= seen + 3, 60)
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0, cluster.log(node)
    assert health_events(cluster) == ["site-failing", "site-recovered"]
    failed = [r for r in cluster.rounds() if r["outcome"] == "failed"]
    assert len(failed) >= 3 and all("robots.txt" in r["error"] for r in failed)


def health_events(watched: Cluster) -> list[str]:
    e = s.health_events.c
    with watched.open().engine.connect() as conn:
        return list(conn.execute(select(e.kind).order_by(e.id)).scalars())


def test_a_node_reads_a_types_listing_once_until_a_listing_is_refused(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """A node runs a site's rounds on the types listing an earlier round read. A listing
    that answers 404 or 401 makes the round read the types listing again and judge as a
    round that read it first: a type that left is skipped, a closed REST API is
    degraded mode; the listing then read is kept again."""
    monkeypatch.setenv("WPWATCH_SETTINGS", "WPWATCH_TYPES_MAX_AGE=900")
    cluster.add_sites(1, latency=0.0)
    (site,) = cluster.sites.values()
    site.register_type("book", rest_base="books")
    site.add("A book", "<p>Chapter one.</p>", type="book", date="2024-03-04T00:00:00Z")
    cluster.write_config("1s")
    node = cluster.start_node()

    def reads(path: str, since: int = 0) -> int:
        return sum(1 for _m, target, _s, _b in list(site.request_log)[since:]
                   if target.split("?")[0] == f"/wp-json/wp/v2/{path}")

    def finished() -> list[dict[str, Any]]:
        return [r for r in cluster.rounds() if r["outcome"] != "running"]

    def rounds_after(seen: int, n: int) -> list[dict[str, Any]]:
        return wait_until(f"{n} more rounds", lambda: (
            finished()[seen:] if len(finished()) >= seen + n else None), 60)

    first = rounds_after(0, 4)
    assert all(r["outcome"] == "ok" and not r["error"] for r in first), first
    assert reads("types") == 1 and reads("books") >= 4

    # the type leaves: its listing answers 404 rest_no_route, once; the round reads the
    # types listing again, and the type is not watched any more (not "REST closed")
    seen, logged = len(finished()), len(site.request_log)
    site.unregister_type("book")
    after = rounds_after(seen + 1, 3)  # the round under way may have listed books already
    assert all(r["outcome"] == "ok" and not r["error"] for r in after), after
    assert reads("types", logged) == 1 and reads("books", logged) <= 2
    assert reads("books", len(site.request_log) - 1) == 0

    # the REST API closes: a listing answers 401, the types listing too: degraded mode
    seen, logged = len(finished()), len(site.request_log)
    site.rest_mode = "disabled"
    closed = wait_until("a degraded round", lambda: [
        r for r in finished()[seen:]
        if "REST API is closed (401 rest_cannot_access)" in (r["error"] or "")], 60)
    assert closed[0]["outcome"] != "failed"
    assert reads("types", logged) >= 1

    # open again: one round reads the types listing, the next ones run on it
    site.rest_mode = "open"
    seen = len(finished())
    reopened = wait_until("an ok round", lambda: [
        r for r in finished()[seen:] if r["outcome"] == "ok" and not r["error"]], 60)
    logged = len(site.request_log)
    later = rounds_after(finished().index(reopened[0]) + 2, 3)
    assert all(r["outcome"] == "ok" for r in later), later
    assert reads("types", logged) <= 1  # at most the round under way as it reopened
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0, cluster.log(node)
