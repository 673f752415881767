"""Soak: the daemon's resident memory over many rounds of a quiet site.

    .venv/bin/python bench/soak.py [--rounds 500] [--interval 0.2]

Serves the bundled demo site on 127.0.0.1 (a separate process), runs the real
daemon (`scheduler.py`) on it at a short interval, and reads the daemon's
VmRSS from /proc when the archive holds round 50 and round N. Prints one
line per checkpoint and the growth. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive import Archive  # noqa: E402
from archive import schema as s  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def rounds_done(db: Path) -> int:
    archive = Archive(str(db))
    try:
        with archive.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(s.rounds).where(s.rounds.c.outcome == "ok")
            ).scalar() or 0)
    finally:
        archive.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "wpwatch.demo.server", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "soak.db"
        conf = Path(tmp) / "wpwatch.toml"
        conf.write_text(f'[defaults]\ninterval = "{args.interval}s"\n\n[[sites]]\nname = "demo"\n'
                        f'url = "http://127.0.0.1:{port}"\n')
        daemon = subprocess.Popen(
            [sys.executable, str(REPO / "scheduler.py"), "--db", str(db), "--config", str(conf)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        checkpoints = {50: 0, args.rounds: 0}
        started = time.monotonic()
        try:
            for target in sorted(checkpoints):
                while rounds_done(db) < target:
                    if time.monotonic() - started > args.timeout:
                        raise SystemExit(f"soak: timed out before round {target}")
                    if daemon.poll() is not None:
                        raise SystemExit(f"soak: the daemon exited ({daemon.returncode})")
                    time.sleep(0.2)
                checkpoints[target] = rss_kib(daemon.pid)
                print(f"round {target:>5}: daemon RSS {checkpoints[target] / 1024:.1f} MiB "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
            server.terminate()
            server.wait(10)
    first, last = checkpoints[50], checkpoints[args.rounds]
    print(f"growth from round 50 to round {args.rounds}: {(last - first) / 1024:+.1f} MiB "
          f"(target: under 5 MB); daemon exit {daemon.returncode}")


if __name__ == "__main__":
    main()
