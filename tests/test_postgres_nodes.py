"""Several `wpwatch run` nodes on one PostgreSQL archive, as real processes.

The sites are demo sites, each on its own loopback address, slowed down a little so
that rounds are still running when a node is killed. The tests wait on what the
nodes write to the archive and on the servers' own logs, never on fixed sleeps.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive import Archive
from archive import cluster as shared
from archive import schema as s
from core.values import normalize_site_url, parse_iso
from tests.waiting import wait_until
from tests.webhookserver import WebhookServer
from wpwatch.demo.server import DemoServer, DemoSite

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def start(round_row: dict[str, Any]) -> float:
    return parse_iso(round_row["started_at"]).timestamp()


@dataclass
class Cluster:
    """Demo sites, a config naming them, and `wpwatch run` processes on one database."""

    db: str
    tmp: Path
    server: DemoServer
    sites: dict[str, DemoSite] = field(default_factory=dict)
    nodes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    archive: Archive | None = None

    def add_sites(self, count: int, latency: float) -> None:
        for i in range(count):
            site = DemoSite(f"Site {i}")
            site.latency = latency
            for k in range(3):
                site.add(f"Post {k}", "<p>Statement of the day.</p>",
                         date=f"2024-03-0{k + 1}T00:00:00Z")
            url = self.server.add_site(site, host=f"127.0.{2 + i // 250}.{2 + i % 250}")
            self.sites[url] = site

    def write_config(self, interval: str, extra: str = "") -> None:
        text = f'[defaults]\ninterval = "{interval}"\nfull_interval = "1d"\n{extra}\n'
        for i, url in enumerate(self.sites):
            text += f'[[sites]]\nname = "site{i}"\nurl = "{url}"\n\n'
        (self.tmp / "wpwatch.toml").write_text(text)

    def start_node(self, *args: str) -> subprocess.Popen[bytes]:
        n = len(self.nodes)
        with open(self.tmp / f"node{n}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "wpwatch", "--db", self.db, "--config",
                 str(self.tmp / "wpwatch.toml"), "run", *args],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                env={**os.environ, "PYTHONPATH": str(REPO)})
        self.nodes.append(proc)
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.tmp / f"node{self.nodes.index(proc)}.log").read_text(errors="replace")

    def open(self) -> Archive:
        if self.archive is None:
            self.archive = wait_until("the archive's tables", self._archive, 60)
        return self.archive

    def _archive(self) -> Archive | None:
        archive = Archive(self.db)
        if shared.nodes(archive.engine):
            return archive
        archive.close()
        return None

    def rounds(self) -> list[dict[str, Any]]:
        archive = self.open()
        with archive.engine.connect() as conn:
            rows = conn.execute(select(s.rounds, s.sites.c.url)
                                .join(s.sites, s.sites.c.id == s.rounds.c.site_id)
                                .order_by(s.rounds.c.id)).mappings()
            return [dict(r) for r in rows]

    def rounds_by_site(self) -> dict[str, list[dict[str, Any]]]:
        by: dict[str, list[dict[str, Any]]] = {}
        for r in self.rounds():
            by.setdefault(r["url"], []).append(r)
        return by

    def node_rows(self) -> dict[int, dict[str, Any]]:
        """pid → the node's row."""
        return {int(n["name"].rsplit(":", 1)[1]): n for n in shared.nodes(self.open().engine)}


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    with DemoServer() as server:
        c = Cluster(postgres_url, tmp_path, server)
        try:
            yield c
        finally:
            for proc in c.nodes:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if c.archive is not None:
                c.archive.close()


#: The requests a round opens with: discovery (the home page, the API index), the types
#: listing (a node reads it when its kept one is old or doubted), and the first listing
#: of the first type (a node's round on a kept types listing starts there).
OPENING = ("/", "/wp-json/", "/wp-json/wp/v2/types")
FIRST_LISTING = "/wp-json/wp/v2/posts?_fields=id,modified_gmt&orderby=modified"


def opens_a_round(target: str) -> bool:
    return target in OPENING or target.startswith(FIRST_LISTING)


def request_segments(site: DemoSite) -> list[list[str]]:
    """The site's requests as the server logged them, cut before each run of opening
    requests (`opens_a_round`), and before an opening request its segment already holds
    (a round cut right after it opened, by a node killed, then run again), so one segment
    is one round's requests unless two rounds of the site ran at once: then a segment
    holds some URL twice. robots.txt is left out: each node reads it when it first
    polls the site and again once an hour, whichever round asks first."""
    segments: list[list[str]] = []
    previous = ""
    for _method, target, _status, _size in site.request_log:
        if target == "/robots.txt":
            continue
        if not segments or (opens_a_round(target) and (
                not opens_a_round(previous) or target in segments[-1])):
            segments.append([])
        segments[-1].append(target)
        previous = target
    return segments


def test_three_nodes_share_the_rounds_and_a_killed_node_loses_nothing(
    cluster: Cluster, webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    interval = 30.0
    monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)
    cluster.add_sites(200, latency=0.15)
    cluster.write_config("30s", extra='\n[[alerts]]\nname = "desk"\nchannel = "slack"\n'
                         'webhook_url = "env:WPWATCH_TEST_SLACK_URL"\nburst_threshold = 1000\n')
    for _ in range(3):
        cluster.start_node("--concurrency", "8")

    # every site's first round (a baseline), shared between the nodes
    wait_until("a baseline of every site", lambda: len(
        {r["url"] for r in cluster.rounds() if r["outcome"] == "ok"}) == 200, 180)
    edited = list(cluster.sites)[::10]  # 20 sites: one post edited on each
    for url in edited:
        cluster.sites[url].edit(1, title="Statement withdrawn")

    # the node running the most rounds right now is killed mid-round
    def busy_node() -> int | None:
        running = {r["url"] for r in cluster.rounds() if r["outcome"] == "running"}
        with cluster.open().engine.connect() as conn:
            starts = conn.execute(select(s.round_starts.c.site_url, s.round_starts.c.node)
                                  .order_by(s.round_starts.c.id)).all()
        by_node: dict[int, int] = {}
        for url, node in dict(starts).items():  # the latest start of each site
            if normalize_site_url(url) in running:
                pid = int(node.rsplit(":", 1)[1])
                by_node[pid] = by_node.get(pid, 0) + 1
        alive = {p.pid for p in cluster.nodes if p.poll() is None}
        busy = [pid for pid, n in by_node.items() if n >= 2 and pid in alive]
        return busy[0] if busy else None

    victim_pid = wait_until("a node running rounds", busy_node, 60)
    victim = next(p for p in cluster.nodes if p.pid == victim_pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.time()

    # its rounds: recorded interrupted by another node, then run again
    def rerun_sites() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        pairs = {}
        for url, rounds in cluster.rounds_by_site().items():
            for i, r in enumerate(rounds[:-1]):
                cut = r["outcome"] == "interrupted" and "node stopped" in (r["error"] or "")
                if cut and rounds[i + 1]["outcome"] == "ok":
                    pairs[url] = (r, rounds[i + 1])
        return pairs

    wait_until("the killed node's rounds run again", rerun_sites, 90)
    # a few more intervals for every site after the kill, and every alert delivered
    wait_until("two rounds of every site since the kill", lambda: all(
        sum(1 for r in rounds if parse_iso(r["started_at"]).timestamp() > killed_at) >= 2
        for rounds in cluster.rounds_by_site().values()), 180)
    wait_until("20 alerts delivered", lambda: len(webhook_server.posts) >= 20, 60)
    for proc in cluster.nodes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in cluster.nodes:
        if proc is not victim:
            assert proc.wait(60) == 0, cluster.log(proc)

    rounds = cluster.rounds_by_site()
    stalled = [r for rs in rounds.values() for r in rs
               if r["outcome"] == "interrupted" and "node stopped" in (r["error"] or "")]
    reruns = rerun_sites()
    assert stalled and len(reruns) == len(stalled)
    for url, (_cut, again) in reruns.items():  # run again within 30 s of the kill
        assert parse_iso(again["started_at"]).timestamp() - killed_at < 30, url
    assert all(r["outcome"] != "running" for rs in rounds.values() for r in rs)

    # the server's log: no site was ever polled by two rounds at once
    rounds_served = 0
    for url, site in cluster.sites.items():
        for segment in request_segments(site):
            twice = sorted({t for t in segment if segment.count(t) > 1})
            assert not twice, (url, twice, segment)
            rounds_served += 1
    ok_rounds = sum(1 for rs in rounds.values() for r in rs if r["outcome"] == "ok")
    assert rounds_served >= ok_rounds

    # the archive: rounds of one site never overlap, and each site kept its interval
    for url, rs in rounds.items():
        for before, after in itertools.pairwise(rs):
            assert before["finished_at"] <= after["started_at"], (url, before, after)
        ok = [r for r in rs if r["outcome"] == "ok"]
        gaps = [start(b) - start(a) for a, b in itertools.pairwise(ok)]
        assert gaps and max(gaps) < interval + 30 + 5, (url, gaps)  # a re-run within 30 s
        assert abs(statistics.median(gaps) - interval) < 10, (url, gaps)
    # ... and the dispatcher's due times step by exactly the interval, every round started
    # soon after its due time (a re-run keeps the due time of the round it replaces)
    with cluster.open().engine.connect() as conn:
        starts = conn.execute(select(s.round_starts.c.site_url, s.round_starts.c.due_at,
                                     s.round_starts.c.started_at)).all()
    dues: dict[str, set[str]] = {}
    delays = []
    for url, due, started in starts:
        dues.setdefault(url, set()).add(due)
        delays.append(parse_iso(started).timestamp() - parse_iso(due).timestamp())
    for url, times in dues.items():
        stamps = sorted(parse_iso(d).timestamp() for d in times)
        steps = [b - a for a, b in itertools.pairwise(stamps)]
        assert steps and all(abs(step - interval) < 0.5 for step in steps), (url, steps)
    # (how late depends on the machine's load: two cores run 3 nodes, PostgreSQL and the
    # 200 sites here; a killed node's round waits for its recovery)
    assert statistics.median(delays) < 10 and max(delays) < 45, sorted(delays)[-10:]

    # no change and no alert doubled: one edit per edited site, one message each
    archive = cluster.open()
    changes = sorted((c["site"], c["wp_id"], c["kind"]) for c in archive.changes())
    assert changes == sorted((normalize_site_url(url), 1, "edited") for url in edited)
    with archive.engine.connect() as conn:
        alerts = conn.execute(select(s.alerts.c.change_id, s.alerts.c.status)).all()
    assert sorted(a.status for a in alerts) == ["sent"] * 20
    assert len({a.change_id for a in alerts}) == 20
    assert len(webhook_server.posts) == 20
    print(f"\nkill test: {sum(len(rs) for rs in rounds.values())} rounds of 200 sites on 3 "
          f"nodes; {len(stalled)} round(s) of the killed node recorded interrupted and run "
          f"again; {rounds_served} rounds in the servers' logs, none overlapping; "
          f"{len(changes)} changes, {len(webhook_server.posts)} alerts, none doubled")


def test_another_node_takes_over_when_the_dispatcher_dies(cluster: Cluster) -> None:
    cluster.add_sites(5, latency=0.0)
    cluster.write_config("3s")
    first, second = cluster.start_node(), cluster.start_node()

    def dispatcher() -> int | None:
        alive = {p.pid for p in cluster.nodes if p.poll() is None}
        leaders = [pid for pid, n in cluster.node_rows().items()
                   if n["dispatcher"] and pid in alive]
        return leaders[0] if leaders else None

    leader_pid = wait_until("a dispatcher", dispatcher, 60)
    leader = first if first.pid == leader_pid else second
    other = second if leader is first else first
    wait_until("every site's first round", lambda: len(cluster.rounds_by_site()) == 5, 60)
    leader.send_signal(signal.SIGKILL)
    leader.wait()
    killed_at = time.time()
    assert wait_until("the other node leading", dispatcher, 30) == other.pid
    took_over = wait_until("the takeover in the other node's log", lambda: [
        line for line in cluster.log(other).splitlines()
        if "this node is now the dispatcher" in line], 30)[-1]
    at = datetime.strptime(took_over[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    print(f"\ndispatcher takeover {at - killed_at:.2f} s after the SIGKILL")
    assert at - killed_at < 30
    # and it queues rounds: every site gets a round started after the takeover
    wait_until("rounds queued by the new dispatcher", lambda: all(
        any(parse_iso(r["started_at"]).timestamp() > killed_at for r in rs)
        for rs in cluster.rounds_by_site().values()), 30)
    # the cluster view says the same: one node alive, and it dispatches
    view = wait_until("the status showing one node alive", lambda: (
        v := cluster_status(cluster))["nodes_alive"] == 1 and v, 30)
    assert [n["name"] for n in view["nodes"] if n["dispatcher"]] == [node_of(other)]
    assert view["rounds"]["overdue"] == 0 and view["start_delay"]["rounds"] >= 10
    sites = json.loads(run_cli(cluster, "--config", str(cluster.tmp / "wpwatch.toml"),
                               "status", "--json").stdout)  # one object per site, as ever
    assert len(sites) == 5 and all(
        isinstance(s["round_running"], bool) and isinstance(s["round_queued"], bool)
        for s in sites)
    text = run_cli(cluster, "status", "--cluster").stdout
    assert f"{node_of(other)}: alive (dispatcher" in text and "1 node(s) alive" in text
    other.send_signal(signal.SIGTERM)
    assert other.wait(60) == 0


def node_of(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def run_cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wpwatch", "--db", cluster.db, *args],
                          capture_output=True, text=True, timeout=60, cwd=cluster.tmp,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)


def cluster_status(cluster: Cluster) -> dict[str, Any]:
    return json.loads(run_cli(cluster, "status", "--cluster", "--json").stdout)


def test_sigterm_gives_a_running_round_back_to_the_other_nodes(cluster: Cluster) -> None:
    cluster.add_sites(1, latency=0.0)
    cluster.write_config("1h")
    first = cluster.start_node("--grace", "1")
    wait_until("the site's baseline", lambda: cluster.rounds(), 60)
    wait_until("the baseline's end", lambda: cluster.rounds()[-1]["outcome"] == "ok", 60)
    site = next(iter(cluster.sites.values()))
    site.latency = 2.0  # the next round takes ~16 s: longer than the grace
    cluster.open().set_schedule(next(iter(cluster.rounds_by_site())), "2026-01-01T00:00:00.000Z",
                                None)  # due now
    wait_until("a second round running", lambda: len(cluster.rounds()) == 2, 30)
    stopped_at = time.time()
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 0
    assert time.time() - stopped_at < 20
    assert "grace over: stopping 1 round(s)" in cluster.log(first)
    cut = cluster.rounds()[-1]
    assert cut["outcome"] == "interrupted"
    # given back: due at once, so the next node to start runs it straight away
    site.latency = 0.0
    cluster.start_node()
    again = wait_until("the round run by the next node", lambda: len(
        rounds := cluster.rounds()) == 3 and rounds[-1]["outcome"] == "ok" and rounds[-1], 60)
    assert start(again) - time.time() < 30


def test_a_node_that_loses_the_database_says_so_once_and_goes_on(
    cluster: Cluster, postgres_server: Any,
) -> None:
    cluster.add_sites(2, latency=0.0)
    cluster.write_config("2s")
    node = cluster.start_node()
    wait_until("rounds of both sites", lambda: all(
        len(rs) >= 2 for rs in cluster.rounds_by_site().values()) and
        len(cluster.rounds_by_site()) == 2, 60)
    cluster.open().close()
    cluster.archive = None
    postgres_server.stop()
    try:
        wait_until("the node to notice", lambda: "the database is unreachable" in
                   cluster.log(node), 60)
        assert node.poll() is None  # still running, retrying
    finally:
        postgres_server.start()
    back = wait_until("the node to be back", lambda: "the database is back" in
                      cluster.log(node), 90)
    assert back
    restarted = time.time()
    wait_until("rounds after the database came back", lambda: sum(
        1 for r in cluster.rounds() if start(r) > restarted and r["outcome"] == "ok") >= 2, 60)
    log = cluster.log(node)
    assert log.count("the database is unreachable") == 1, log
    assert "Traceback" not in log, log
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0
