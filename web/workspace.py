"""What every view needs: the archive, the config (re-read when its file changes), the
labels, the scoring settings and the login limiter."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from archive.store import Archive
from core import config as cfg
from core.exceptions import ConfigError
from web.auth import LoginLimiter
from web.index import Scoring, catch_up, scoring_from_config

DEFAULT_LABELS = (
    "substantive-text", "removed-content", "backdated", "taken-down", "links-changed", "cosmetic",
)


class Workspace:
    def __init__(self, archive: Archive, config_path: Path | None) -> None:
        self.archive = archive
        self.config_path = config_path
        self.limiter = LoginLimiter()
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._conf = self._load()

    def _load(self) -> cfg.Config:
        conf = cfg.load(self.config_path) if self.config_path else cfg.Config(path=None)
        labels = conf.defaults.get("labels", DEFAULT_LABELS)
        if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
            raise ConfigError(f"{self.config_path}: [defaults] labels must be a list of strings")
        return conf

    @property
    def conf(self) -> cfg.Config:
        """The config, re-read when its file changed (weights, keywords, labels)."""
        if self.config_path is None:
            return self._conf
        try:
            mtime = self.config_path.stat().st_mtime
        except OSError:
            mtime = None
        with self._lock:
            if mtime != self._mtime:
                self._conf, self._mtime = self._load(), mtime
            return self._conf

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.conf.defaults.get("labels", DEFAULT_LABELS))

    @property
    def scoring(self) -> Scoring:
        return scoring_from_config(self.conf)

    def catch_up(self, *, analyze: bool = False) -> int:
        """Index changes the crawler stored since the last question."""
        return catch_up(self.archive, self.scoring, analyze=analyze)

    def site_label(self, row: dict[str, Any]) -> str:
        return str(row.get("name") or row.get("url"))
