"""The base of the alert channels: options that validate a table, and the registry.

A small registry keyed on each class's ``kind`` (``channel = "email"`` in an ``[[alerts]]``
table). The :class:`Option` list declared on a class validates its table, refuses unknown keys
with the supported ones, and gives the help text. String values may be ``"env:NAME"``: they
are resolved when the channel is built, and a missing variable is a ConfigError naming it.

``send`` raises :class:`DeliveryError` with one line that names the channel, the host and the
fix, and never a secret (:meth:`Channel.error` blanks secret values out of any text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from alerts.exceptions import ConfigError, DeliveryError
from alerts.message import Message
from alerts.rules import ROUTING_KEYS as _ROUTING
from core.values import parse_duration, resolve_env

# Keys of an [[alerts]] table that the routing rules read; every channel accepts and ignores them.
ROUTING_KEYS = tuple(sorted(_ROUTING))


# -- options -------------------------------------------------------------------------------------
def one_line(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    if any(c in value for c in "\r\n\0"):
        raise ValueError("must be one line")
    return value.strip()


def email_address(value: Any) -> str:
    value = one_line(value)
    if "@" not in parseaddr(value)[1]:
        raise ValueError("must be an email address")
    return value


def email_addresses(value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise ValueError('must be a list of email addresses, e.g. ["desk@example.org"]')
    return tuple(email_address(v) for v in values)


def port_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError("must be a port number (1-65535)")
    return value


def duration_seconds(value: Any) -> float:
    try:
        return parse_duration(value, "timeout")
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("bad timeout ")) from None


def char_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1000:
        raise ValueError("must be a whole number of characters, at least 1000")
    return value


def existing_file(value: Any) -> str:
    path = one_line(value)
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    return path


def web_url(value: Any) -> str:
    value = one_line(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


def one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError("must be one of " + ", ".join(f'"{c}"' for c in choices))
        return str(value)

    return convert


@dataclass(frozen=True)
class Option:
    """One key of a channel's ``[[alerts]]`` table."""

    name: str
    help: str
    convert: Callable[[Any], Any] = one_line
    required: bool = False
    default: Any = None
    secret: bool = False  # never shown, logged or put in an error message


# -- the registry --------------------------------------------------------------------------------
class Channel:
    """Base of the channels. A subclass sets ``kind`` and ``options`` and implements ``send``."""

    kind: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    registry: ClassVar[dict[str, type[Channel]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Channel.registry[cls.kind] = cls

    def __init__(
        self, name: str, settings: Mapping[str, Any], refs: Mapping[str, str],
        *, session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self.settings = dict(settings)  # option → value, env references resolved
        self.refs = dict(refs)  # option → the environment variable it came from
        self.validate()

    @property
    def label(self) -> str:
        return f"alerts.{self.name}"

    @classmethod
    def from_config(
        cls, entry: Mapping[str, Any], *, session: requests.Session | None = None
    ) -> Channel:
        """Build from one ``[[alerts]]`` table; routing keys are accepted and left alone."""
        name = route_name(entry)
        label = f"alerts.{name}"
        known = {o.name: o for o in cls.options}
        unknown = sorted(set(entry) - set(known) - set(ROUTING_KEYS))
        if unknown:
            raise ConfigError(
                f"{label}: unknown key(s) {', '.join(unknown)} for channel \"{cls.kind}\"; "
                f"supported: {', '.join(sorted(known))} (and the routing keys "
                f"{', '.join(ROUTING_KEYS)})"
            )
        settings: dict[str, Any] = {}
        refs: dict[str, str] = {}
        for opt in cls.options:
            value = entry.get(opt.name)
            if value is None:
                if opt.required:
                    raise ConfigError(f"{label}: missing {opt.name} ({opt.help})")
                settings[opt.name] = opt.default
                continue
            if isinstance(value, str) and value.startswith("env:"):
                refs[opt.name] = value[4:]
                value = resolve_env(value, f"{label}.{opt.name}")
            try:
                settings[opt.name] = opt.convert(value)
            except ValueError as exc:
                shown = "" if opt.secret or opt.name in refs else f" (got {value!r})"
                source = f" (from {refs[opt.name]})" if opt.name in refs else ""
                raise ConfigError(f"{label}: {opt.name}{source} {exc}{shown}") from None
        return cls(name, settings, refs, session=session)

    @classmethod
    def help(cls) -> str:
        """The options of this channel, one a line, for `--help` and the README."""
        lines = [f'channel = "{cls.kind}"']
        for o in cls.options:
            default = f" (default {o.default})" if o.default is not None else ""
            need = " (required)" if o.required else ""
            lines.append(f"  {o.name:<12} {o.help}{need}{default}")
        return "\n".join(lines)

    def validate(self) -> None:
        """Checks across options; raise ConfigError."""

    def send(self, msg: Message) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        """What would be sent where, for --dry-run: secrets shown as their variable or ***."""
        raise NotImplementedError

    # -- helpers for subclasses
    def shown(self, option: str) -> str:
        if option in self.refs:
            return f"${self.refs[option]}"
        opt = next(o for o in self.options if o.name == option)
        return "***" if opt.secret else str(self.settings[option])

    def hint(self, option: str) -> str:
        """Where the user fixes a value: its variable, else the key in wpwatch.toml."""
        if option in self.refs:
            return self.refs[option]
        return f"{option} in [[alerts]] {self.name}"

    def error(self, reason: str, **kwargs: Any) -> DeliveryError:
        """A DeliveryError whose text has every secret value blanked out, whatever built it."""
        for opt in self.options:
            value = self.settings.get(opt.name)
            if opt.secret and isinstance(value, str) and len(value) >= 4:
                reason = reason.replace(value, "***")
        return DeliveryError(reason, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"


def route_name(entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError('each [[alerts]] table needs a name, e.g. name = "desk-email"')
    return name.strip()


