"""Quiet rounds per second with 1, 2 and 3 `wpwatch run` nodes on one PostgreSQL archive.

    .venv/bin/python bench/nodes.py [--sites 400] [--interval 3s] [--window 40]
        [--nodes 1,2,3] [--concurrency 8,16] [--profile FILE.prof]

A throw-away PostgreSQL on 127.0.0.1 (tests/postgres.py); quiet demo sites (3 posts,
no latency), each on its own loopback address, served by this process's threads;
for each (nodes, concurrency) a fresh database and real `wpwatch run` processes at an
interval far shorter than they can keep up with. Once every site has its baseline
and a warm-up has passed, a fixed window measures:

* rounds with outcome ok that finished in the window (the archive's ``rounds``);
* CPU (utime+stime, /proc/PID/stat) over the window of the node processes, of
  PostgreSQL (the postmaster with its reaped children's cutime/cstime, plus every
  live child: backends that exit in the window are counted too), of this process
  (the demo server), and of the whole machine (/proc/stat), per quiet round;
* start delays (``round_starts``: started_at - due_at) of rounds started in it.

``--profile`` runs one node under cProfile right after the first configuration, on its
database, for one window. Every node is killed and PostgreSQL stopped on exit, Ctrl-C
and SIGTERM included. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.cluster import delay_summary  # noqa: E402
from core.values import iso_utc, parse_duration, parse_iso  # noqa: E402
from tests.postgres import PostgresServer, running_postgres  # noqa: E402
from wpwatch.demo import DemoServer, DemoSite  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
WARM_UP = 10.0  # seconds after the last baseline before the window opens
#: `python -m wpwatch` under cProfile, on only between SIGUSR1 and SIGUSR2 (the window,
#: not start-up); SIGTERM stops the node, then it writes the profile. cProfile's own clock
#: (wall time) is used: a CPU clock (time.process_time) is a system call per function
#: call here and charged settings.copy() 38 ms a round that timeit puts at 2.3 ms. So
#: waits show too: in epoll (idle) and in psycopg's wait (the loop blocked on PostgreSQL).
PROFILED = """import cProfile, runpy, signal, sys
sys.argv = sys.argv[1:]
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
try:
    runpy.run_module("wpwatch", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    profile.disable()
    profile.dump_stats({out!r})
"""


def proc_stat(pid: int | str) -> list[str]:
    """Fields of /proc/PID/stat after the command name: [0] is state, [1] the ppid."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def cpu_of(pid: int | str, children: bool = True) -> float:
    """CPU seconds of a process (utime+stime), with its reaped children's if asked."""
    fields = proc_stat(pid)
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def postgres_cpu(postmaster: int) -> float:
    """The postmaster, its exited (reaped) backends, and every live backend."""
    total = cpu_of(postmaster)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(proc_stat(entry.name)[1]) == postmaster:
                    total += cpu_of(entry.name, children=False)
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / TICK, sum(values) / TICK


def query(db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def wait_for(what: str, pred: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error):
            if pred():
                return
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


class Bench:
    def __init__(self, pg: PostgresServer, urls: list[str], interval: str, tmp: Path) -> None:
        self.pg, self.urls, self.interval, self.tmp = pg, urls, interval, tmp
        self.postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.config = tmp / "wpwatch.toml"
        text = f'[defaults]\ninterval = "{interval}"\nfull_interval = "1d"\n\n'
        for i, url in enumerate(urls):
            text += f'[[sites]]\nname = "site{i}"\nurl = "{url}"\n\n'
        self.config.write_text(text)

    def start_node(self, db: str, concurrency: int, profile: Path | None = None) -> None:
        prefix = ["-c", PROFILED.format(out=str(profile))] if profile else ["-m"]
        log = open(self.tmp / f"node{len(self.nodes)}.log", "ab")  # noqa: SIM115
        with log:
            self.nodes.append(subprocess.Popen(
                [sys.executable, *prefix, "wpwatch", "--db", db, "--config",
                 str(self.config), "run", "--concurrency", str(concurrency)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp, env=ENV))

    def signal_nodes(self, sig: int) -> None:
        for proc in self.nodes:
            if sig and proc.poll() is None:
                proc.send_signal(sig)

    def stop_nodes(self, sig: int = signal.SIGTERM) -> None:
        for proc in self.nodes:
            if proc.poll() is None:
                proc.send_signal(sig)
        for proc in self.nodes:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.nodes.clear()

    def baselines(self, db: str) -> int:
        rows = query(db, "SELECT count(DISTINCT site_id) FROM rounds WHERE outcome = 'ok'")
        return int(rows[0][0])

    def sample(self) -> dict[str, float]:
        busy, total = machine_busy()
        return {"t": time.monotonic(), "nodes": sum(cpu_of(p.pid) for p in self.nodes),
                "pg": postgres_cpu(self.postmaster), "self": cpu_of("self", children=False),
                "busy": busy, "total": total}

    def window(self, db: str, seconds: float, profiled: bool = False) -> dict[str, Any]:
        """Measure the running nodes over ``seconds``."""
        self.signal_nodes(signal.SIGUSR1 if profiled else 0)
        before, start = self.sample(), iso_utc_now()
        time.sleep(seconds)
        after, end = self.sample(), iso_utc_now()
        self.signal_nodes(signal.SIGUSR2 if profiled else 0)
        d = {k: after[k] - before[k] for k in before}
        rounds = query(db, "SELECT outcome, count(*) FROM rounds WHERE finished_at >= %s "
                       "AND finished_at < %s GROUP BY outcome", start, end)
        by_outcome = {outcome: int(n) for outcome, n in rounds}
        ok = by_outcome.get("ok", 0)
        starts = query(db, "SELECT due_at, started_at FROM round_starts WHERE started_at >= %s "
                       "AND started_at < %s", start, end)
        delays = delay_summary([max(0.0, (parse_iso(s) - parse_iso(d)).total_seconds())
                                for d, s in starts])
        changes = query(db, "SELECT count(*) FROM changes WHERE detected_at >= %s", start)
        queued = query(db, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        late = query(db, "SELECT count(*), min(next_due) FROM schedule WHERE next_due < %s",
                     iso_utc_now(-2))[0]
        lag = (datetime.now(UTC) - parse_iso(late[1])).total_seconds() if late[1] else 0.0
        return {"seconds": d["t"], "ok": ok, "other": sum(by_outcome.values()) - ok,
                "rate": ok / d["t"], "node_ms": 1000 * d["nodes"] / max(ok, 1),
                "pg_ms": 1000 * d["pg"] / max(ok, 1), "self_ms": 1000 * d["self"] / max(ok, 1),
                "node_cores": d["nodes"] / d["t"], "pg_cores": d["pg"] / d["t"],
                "self_cores": d["self"] / d["t"], "busy_cores": d["busy"] / d["t"],
                "cores": d["total"] / d["t"], "delay_med": delays["median_s"] or 0.0,
                "delay_p95": delays["p95_s"] or 0.0,
                "changes": int(changes[0][0]), "queued": int(queued[0][0]),
                "late": int(late[0]), "lag": lag}

    def run(self, nodes: int, concurrency: int, seconds: float) -> tuple[str, dict[str, Any]]:
        db = self.pg.new_database()
        try:
            for _ in range(nodes):
                self.start_node(db, concurrency)
            wait_for("every site's baseline", lambda: self.baselines(db) == len(self.urls), 600)
            time.sleep(WARM_UP)
            self.check_alive()
            pids = " ".join(str(proc.pid) for proc in self.nodes)
            print(f"  {nodes} node(s), pids {pids}: a {seconds:.0f} s window starts",
                  file=sys.stderr, flush=True)
            result = self.window(db, seconds)
            self.check_alive()
        finally:
            self.stop_nodes()
        return db, result

    def check_alive(self) -> None:
        for i, proc in enumerate(self.nodes):
            if proc.poll() is not None:
                tail = (self.tmp / f"node{i}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"node {i} exited {proc.returncode}:\n{tail}")

    def profile(self, db: str, concurrency: int, seconds: float,
                out: Path) -> tuple[dict[str, Any], str]:
        try:
            self.start_node(db, concurrency, profile=out)
            time.sleep(WARM_UP)
            self.check_alive()
            result = self.window(db, seconds, profiled=True)
        finally:
            self.stop_nodes()
        return result, top_entries(out, result["ok"])


#: Frames that hold the whole run (start-up, click, the event loop): not informative.
WRAPPERS = ("runpy", "click/", "wpwatch/__main__", "wpwatch/cli/", "base_events.py",
            "asyncioreactor.py", "events.py", "node.py:125(run)", "_contextvars.Context",
            "log.py:85(callWithLogger)")


def package_of(file: str) -> str:
    """site-packages/scrapy/… → scrapy; …/python3.11/copy.py → copy; this repo → archive/…"""
    parts = Path(file).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if str(REPO) in file:
        return "wpwatch's " + Path(file).relative_to(REPO).parts[0] + "/"
    if file == "~":
        return "builtins (C)"
    return parts[-2] if len(parts) > 1 and not parts[-2].startswith("python") else Path(file).stem


def top_entries(path: Path, rounds: int, count: int = 15) -> str:
    """Own time by package, then the top entries by cumulative time (wrappers of the
    whole run left out) and by own time: cumulative s, own s, calls, where."""
    raw: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(tt for _cc, _nc, tt, _ct, _callers in raw.values())
    entries, packages, statements = [], Counter[str](), 0
    for (file, line, func), (_cc, calls, own, cum, _callers) in raw.items():
        entries.append((cum, own, calls, "/".join(Path(file).parts[-2:]) + f":{line}({func})"))
        packages[package_of(file)] += own
        if file.endswith("sqlalchemy/engine/base.py") and func in ("execute", "exec_driver_sql"):
            statements += calls
    lines = [f"profile: {total:.1f} s (wall) under cProfile, the window only; {rounds} rounds; "
             f"{statements / max(rounds, 1):.1f} SQLAlchemy statements a round\n",
             "own time by package: " + ", ".join(
                 f"{name} {own / total:.0%}" for name, own in packages.most_common(12))]
    for title, key in (("cumulative", 0), ("own", 1)):
        lines.append(f"\ntop {count} by {title} time: cumulative s, own s, calls, where")
        ranked = sorted(entries, key=lambda e: -e[key])
        shown = [e for e in ranked if key or not any(w in e[3] for w in WRAPPERS)][:count]
        lines += [f"{c:8.2f} {o:8.2f} {n:9d}  {w}" for c, o, n, w in shown]
    return "\n".join(lines)


def iso_utc_now(seconds: float = 0.0) -> str:
    return iso_utc(datetime.now(UTC) + timedelta(seconds=seconds))


@contextlib.contextmanager
def demo_sites(count: int) -> Iterator[list[str]]:
    server = DemoServer()
    urls = []
    for i in range(count):
        site = DemoSite(f"Site {i}")
        for k in range(3):
            site.add(f"Post {k}", "<p>Statement of the day.</p>",
                     date=f"2024-03-0{k + 1}T00:00:00Z")
        urls.append(server.add_site(site, host=f"127.0.{2 + i // 250}.{2 + i % 250}"))
    with server:
        yield urls


def row(nodes: int, conc: int, r: dict[str, Any], interval: float, sites: int) -> str:
    demand = sites / interval
    return (f"| {nodes} | {conc} | {r['ok']} in {r['seconds']:.0f} s | {r['rate']:.1f} "
            f"({r['rate'] / demand:.0%} of {demand:.0f}) | {r['node_ms']:.1f} | "
            f"{r['pg_ms']:.1f} | {r['self_ms']:.1f} | {r['node_cores']:.2f} / "
            f"{r['pg_cores']:.2f} / {r['self_cores']:.2f} / {r['busy_cores']:.2f} of "
            f"{r['cores']:.0f} | {r['delay_med']:.1f} / {r['delay_p95']:.1f} | "
            f"{r['queued']} / {r['late']} ({r['lag']:.0f} s) | "
            f"{333 * r['node_ms'] / 1000:.1f} / {333 * r['pg_ms'] / 1000:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=400)
    ap.add_argument("--interval", default="3s")
    ap.add_argument("--window", type=float, default=40.0)
    ap.add_argument("--nodes", default="1,2,3")
    ap.add_argument("--concurrency", default="8,16")
    ap.add_argument("--profile", type=Path, metavar="FILE.prof",
                    help="also profile one node for a window; keep its profile here")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally blocks run
    interval = parse_duration(args.interval, "--interval")
    print(f"# wpwatch nodes benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
          f"cores, load average {os.getloadavg()[0]:.2f}; {args.sites} quiet sites every "
          f"{args.interval}, window {args.window:.0f} s\n", flush=True)
    print("| nodes | concurrency | ok rounds | rounds/s (of demand) | node CPU ms/round | "
          "PG CPU ms/round | demo server CPU ms/round | cores: nodes / PG / demo / machine "
          "busy | start delay s median / p95 | at end: queued / due, not queued (oldest) | "
          "cores for "
          "333 rounds/s: "
          "nodes / PG |")
    print("| --- " * 11 + "|", flush=True)
    with running_postgres() as pg, demo_sites(args.sites) as urls, \
            tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp:
        bench = Bench(pg, urls, args.interval, Path(tmp))
        try:
            profile = ""
            for conc in (int(c) for c in args.concurrency.split(",")):
                for nodes in (int(n) for n in args.nodes.split(",")):
                    db, r = bench.run(nodes, conc, args.window)
                    print(row(nodes, conc, r, interval, args.sites), flush=True)
                    if r["other"] or r["changes"]:
                        print(f"  ({r['other']} rounds not ok, {r['changes']} changes)")
                    if args.profile and not profile:  # the same database, right after
                        r, text = bench.profile(db, conc, args.window, args.profile.resolve())
                        profile = (f"\nOne node under cProfile, on the database above:\n"
                                   f"{row(1, conc, r, interval, args.sites)}\n\n```\n"
                                   f"{text.strip()}\n```")
            print(profile)
        finally:
            bench.stop_nodes(signal.SIGKILL)


if __name__ == "__main__":
    main()
