"""`wpwatch.toml`: what to watch. Read with tomllib, edited with tomlkit (keeps comments)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit

from core.exceptions import ConfigError, UnknownSite
from core.ignore_rules import IgnoreTable, merge_ignore, parse_ignore
from core.values import (
    normalize_site_url,
    parse_duration,
    resolve_env,
)

DEFAULT_INTERVAL = 15 * 60
DEFAULT_FULL_INTERVAL = 24 * 3600
SITE_KEYS = {
    "name", "url", "interval", "full_interval", "types", "active_hours", "round_timeout", "ignore",
    "allow_other_host", "weight", "username", "app_password",
}
#: Site keys holding a WordPress login and its application password (an own site).
CREDENTIAL_KEYS = ("username", "app_password")
DEFAULT_KEYS = {
    "interval", "full_interval", "active_hours", "round_timeout", "grace", "concurrency",
    "report_url", "tsa_url", "base_url", "labels", "ignore",
    "failing_after", "failing_for",  # when a site counts as failing (its site-failing alert)
}
URL_DEFAULTS = ("report_url", "tsa_url")  # may be "env:NAME"


_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(value: Any, what: str) -> tuple[int, int] | None:
    """'08:00-20:00' → (480, 1200), minutes after local midnight; may wrap midnight."""
    if value in (None, ""):
        return None
    m = _HOURS.match(str(value))
    if not m:
        raise ConfigError(f"bad {what} {value!r}: use e.g. \"08:00-20:00\"")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ConfigError(f"bad {what} {value!r}: not a time of day")
    return h1 * 60 + m1, h2 * 60 + m2



@dataclass(frozen=True)
class Credentials:
    """A WordPress login and application password, for Basic auth on the site's REST API.

    The password never shows: not in ``repr``, not in ``str``, not in errors.
    """

    username: str
    app_password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, app_password='[redacted]')"

    __str__ = __repr__


@dataclass
class SiteConfig:
    name: str
    url: str
    interval: float = DEFAULT_INTERVAL
    full_interval: float = DEFAULT_FULL_INTERVAL
    types: tuple[str, ...] = ()
    active_hours: tuple[int, int] | None = None  # minutes after midnight, local time
    round_timeout: float | None = None
    allow_other_host: bool = False  # follow API links/redirects to another host
    weight: float = 1.0  # multiplies the priority score of the site's changes (web/)
    #: Ignore rules: [defaults.ignore] and the site's own, checked (see parse_ignore).
    ignore: IgnoreTable = field(default_factory=dict)
    #: ``username`` and ``app_password`` as written (literal or "env:NAME"); see `credentials`.
    auth: tuple[str, str] | None = field(default=None, repr=False)

    def credentials(self) -> Credentials | None:
        """The site's login, its ``env:`` references read now; None for an anonymous site."""
        if self.auth is None:
            return None
        user, password = (
            str(resolve_env(value, f"sites.{self.name}.{key}"))
            for key, value in zip(CREDENTIAL_KEYS, self.auth, strict=True)
        )
        if not user.strip() or not password.strip():
            empty = "username" if not user.strip() else "app_password"
            raise ConfigError(f"sites.{self.name}.{empty} is empty: set it, or remove both "
                              "username and app_password to watch the site anonymously")
        return Credentials(user.strip(), password.strip())

    @property
    def budget(self) -> float:
        """A round's time budget: its own setting, else its interval (capped at 30 min)."""
        if self.round_timeout:
            return self.round_timeout
        return max(30.0, min(self.interval, 1800.0))

    def active_at(self, minutes: int) -> bool:
        """Whether `minutes` after local midnight is inside the site's active hours."""
        if self.active_hours is None:
            return True
        start, end = self.active_hours
        return start <= minutes < end if start <= end else minutes >= start or minutes < end


@dataclass
class Config:
    path: Path | None
    sites: list[SiteConfig] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def check(self) -> None:
        """What `parse` leaves for later: `env:` references of [defaults] and of sites' logins
        resolve."""
        for site in self.sites:
            site.credentials()
        for key in URL_DEFAULTS:
            value = self.defaults.get(key)
            if isinstance(value, str) and value.startswith("env:"):
                _check_web_url(resolve_env(value, f"defaults.{key}"), f"defaults.{key}")

    def site(self, key: str) -> SiteConfig | None:
        """The site whose URL or name is ``key`` (a URL in any spelling that normalizes to it)."""
        by_url = self._by_url
        if key in by_url:
            return by_url[key]
        for s in self.sites:
            if key == s.name:
                return s
        try:
            return by_url.get(normalize_site_url(key))
        except ValueError:
            return None

    @cached_property
    def _by_url(self) -> dict[str, SiteConfig]:
        """Site URL → site, built once: the daemon and every node look a site up per round."""
        by_url: dict[str, SiteConfig] = {}
        for s in self.sites:
            by_url.setdefault(s.url, s)
        return by_url


def default_path() -> Path:
    return Path(os.environ.get("WPWATCH_CONFIG", "wpwatch.toml"))


def load(path: Path | None = None, *, must_exist: bool = False) -> Config:
    path = path or default_path()
    if not path.exists():
        if must_exist:
            raise ConfigError(
                f"config file {path} not found (create it with `wpwatch sites add URL`)"
            )
        return Config(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path)


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path or "config")
    defaults = data.get("defaults", {}) or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    unknown_defaults = set(defaults) - DEFAULT_KEYS
    if unknown_defaults:
        raise ConfigError(
            f"{where}: unknown key(s) in [defaults]: {', '.join(sorted(unknown_defaults))}; "
            f"supported: {', '.join(sorted(DEFAULT_KEYS))}"
        )
    _check_defaults(defaults)
    d_ignore = parse_ignore(defaults.get("ignore"), f"{where}: [defaults.ignore]")
    d_interval = parse_duration(defaults.get("interval", DEFAULT_INTERVAL), "defaults.interval")
    d_full = parse_duration(
        defaults.get("full_interval", DEFAULT_FULL_INTERVAL), "defaults.full_interval"
    )
    sites: list[SiteConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("sites", []) or []):
        label = f"{where}: sites[{i}]"
        if not isinstance(raw, dict) or "url" not in raw:
            raise ConfigError(f"{label}: each [[sites]] needs a url")
        unknown = set(raw) - SITE_KEYS
        if unknown:
            raise ConfigError(
                f"{label}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"supported: {', '.join(sorted(SITE_KEYS))}"
            )
        try:
            url = normalize_site_url(str(raw["url"]))
        except ValueError as exc:
            raise ConfigError(f"{label}: {exc}") from None
        name = str(raw.get("name") or url.split("://", 1)[1])
        if name in seen or url in seen:
            raise ConfigError(f"{label}: site {name} ({url}) is listed twice")
        seen |= {name, url}
        types = raw.get("types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ConfigError(f"{label}: types must be a list of REST bases, e.g. [\"posts\"]")
        sites.append(
            SiteConfig(
                name=name,
                url=url,
                interval=parse_duration(raw.get("interval", d_interval), f"{name}.interval"),
                full_interval=parse_duration(
                    raw.get("full_interval", d_full), f"{name}.full_interval"
                ),
                types=tuple(types),
                active_hours=parse_hours(
                    raw.get("active_hours", defaults.get("active_hours")), f"{name}.active_hours"
                ),
                round_timeout=parse_duration(raw["round_timeout"], f"{name}.round_timeout")
                if "round_timeout" in raw
                else (
                    parse_duration(defaults["round_timeout"], "defaults.round_timeout")
                    if "round_timeout" in defaults
                    else None
                ),
                allow_other_host=bool(raw.get("allow_other_host", False)),
                weight=_weight(raw.get("weight", 1.0), name),
                ignore=merge_ignore(
                    d_ignore, parse_ignore(raw.get("ignore"), f"{where}: [sites.ignore] of {name}")
                ),
                auth=_site_auth(raw, name),
            )
        )
    alerts = _alert_tables(data.get("alerts", []) or [], where)
    return Config(path=path, sites=sites, defaults=dict(defaults), alerts=alerts)


def _site_auth(raw: dict[str, Any], name: str) -> tuple[str, str] | None:
    """``username`` and ``app_password`` of a [[sites]] table: both or neither, strings."""
    given = [key for key in CREDENTIAL_KEYS if key in raw]
    if not given:
        return None
    if len(given) == 1:
        missing = next(k for k in CREDENTIAL_KEYS if k not in raw)
        raise ConfigError(
            f"sites.{name}: {given[0]} without {missing}: an own site needs both, e.g. "
            f'username = "env:OURS_WP_USER" and app_password = "env:OURS_WP_APP_PASSWORD"'
        )
    for key in CREDENTIAL_KEYS:
        if not isinstance(raw[key], str):
            raise ConfigError(f"sites.{name}.{key} must be a string (a login, or \"env:NAME\")")
    return str(raw["username"]), str(raw["app_password"])


def _check_defaults(defaults: dict[str, Any]) -> None:
    """[defaults] values the daemon and the alerts read later, checked now."""
    if "grace" in defaults:
        parse_duration(defaults["grace"], "defaults.grace")
    if "failing_for" in defaults:
        parse_duration(defaults["failing_for"], "defaults.failing_for")
    after = defaults.get("failing_after", 3)
    if isinstance(after, bool) or not isinstance(after, int) or after < 1:
        raise ConfigError(
            f"defaults.failing_after must be a whole number of rounds, at least 1 (got {after!r})"
        )
    concurrency = defaults.get("concurrency", 8)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(
            "defaults.concurrency must be a whole number of sites, at least 1 "
            f"(got {concurrency!r})"
        )
    for key in URL_DEFAULTS:
        value = defaults.get(key)
        if value is None or (isinstance(value, str) and value.startswith("env:")):
            continue  # an env: reference is resolved by Config.check()
        _check_web_url(value, f"defaults.{key}")


def _check_web_url(value: Any, what: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} must be an http(s) URL, e.g. \"https://example.org/\"")


def _alert_tables(value: Any, where: str) -> list[dict[str, Any]]:
    """[[alerts]] as tables with unique names; their channel options are checked by alerts/."""
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise ConfigError(f"{where}: alerts must be [[alerts]] tables")
    names: set[str] = set()
    for i, entry in enumerate(value):
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f'{where}: alerts[{i}] needs a name, e.g. name = "desk-email"'
            )
        if name in names:
            raise ConfigError(f"{where}: [[alerts]] names must be unique: {name} is used twice")
        names.add(name)
    return [dict(e) for e in value]


def _weight(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{name}.weight must be a number >= 0 (1 is the default), not {value!r}")
    return float(value)


def change_link(defaults: Mapping[str, Any], change_id: int) -> str | None:
    """The page a person opens for a change: the review workspace's (``base_url``), else the
    static report's (``report_url``), else None. Alerts and reports link through this."""
    base = defaults.get("base_url")
    if base:
        return f"{str(base).rstrip('/')}/changes/{change_id}"
    report = defaults.get("report_url")
    if report:
        return f"{str(report).rstrip('/')}/changes/{change_id}.html"
    return None


def add_site(
    path: Path, url: str, *, name: str | None = None, interval: str | None = None,
    types: list[str] | None = None, check: Callable[[str, list[str]], object] | None = None,
) -> SiteConfig:
    """Append a [[sites]] entry, keeping the file's comments and layout.

    `check(url, types)`, when given, is called once the entry is known to be valid and
    new, before the file is written; what it raises leaves the file as it was.
    """
    url = normalize_site_url(url)  # BadURL, a ConfigError, says what is wrong with it
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    current = parse(doc.unwrap(), path)
    name = name or url.split("://", 1)[1]
    same_url, same_name = current.site(url), current.site(name)
    if same_url is not None:
        raise ConfigError(f"{url} is already watched in {path}, as {same_url.name}")
    if same_name is not None:
        raise ConfigError(
            f"the name {name} is already taken in {path} by {same_name.url}: choose another "
            "with --name"
        )
    entry = tomlkit.table()
    entry["name"] = name
    entry["url"] = url
    if interval:
        parse_duration(interval, "interval")
        entry["interval"] = interval
    if types:
        entry["types"] = types
    if check is not None:
        check(url, list(types or ()))
    if "sites" not in doc:
        doc["sites"] = tomlkit.aot()
    doc["sites"].append(entry)
    _write(path, doc)
    return parse(doc.unwrap(), path).site(url)  # type: ignore[return-value]


def remove_site(path: Path, key: str) -> SiteConfig:
    if not path.exists():
        raise ConfigError(f"config file {path} not found")
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    current = parse(doc.unwrap(), path)
    site = current.site(key)
    if site is None:
        known = ", ".join(s.name for s in current.sites) or "none"
        raise UnknownSite(f"no site {key!r} in {path}; configured sites: {known}")
    aot = doc["sites"]
    for i, entry in enumerate(list(aot)):
        if normalize_site_url(str(entry["url"])) == site.url:
            del aot[i]
            break
    _write(path, doc)
    return site


def _write(path: Path, doc: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)
