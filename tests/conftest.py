"""Shared fixtures: the real WordPress stack (tests/wordpress.py), a throw-away PostgreSQL
server and the ``archive_url`` engine fixture (tests/postgres.py), and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.wordpress", "tests.postgres", "tests.smtpserver", "tests.webhookserver"]

REPO = Path(__file__).resolve().parent.parent


@dataclass
class WPWatch:
    """Runs the real `wpwatch` command in a subprocess on one archive.

    A subprocess per command, because Twisted's reactor cannot be restarted
    inside one process, and because that is how users and cron run it.
    """

    db: Path
    config: Path
    #: A database URL (postgresql://…) to use instead of the SQLite file ``db``; the
    #: commands still run in ``db``'s directory.
    url: str | None = None

    @property
    def db_arg(self) -> str:
        return self.url or str(self.db)

    def run(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            [sys.executable, "-m", "wpwatch", "--db", self.db_arg, "--config", str(self.config),
             *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.db.parent,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"wpwatch {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)


@pytest.fixture
def wpwatch(tmp_path: Path) -> WPWatch:
    return WPWatch(db=tmp_path / "wpwatch.db", config=tmp_path / "wpwatch.toml")


@pytest.fixture
def wpwatch_all_engines(archive_url: str, tmp_path: Path) -> WPWatch:
    """The `wpwatch` CLI runner, once on an SQLite file and once on a PostgreSQL database."""
    ww = WPWatch(db=tmp_path / "wpwatch.db", config=tmp_path / "wpwatch.toml")
    if "://" in archive_url:
        ww.url = archive_url
    return ww


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An archive of the demo site with one change of each kind (built once a session)."""
    from tests.test_evidence import shared_demo_archive

    return shared_demo_archive(tmp_path_factory)


@pytest.fixture
def copy(demo_archive: Any, tmp_path: Path) -> WPWatch:
    """A private copy of `demo_archive` a test may tamper with."""
    from tests.test_evidence import copy_archive

    return copy_archive(demo_archive, tmp_path)
