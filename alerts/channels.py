"""Alert channels: where a :class:`~alerts.message.Message` goes.

The base and its options live in :mod:`alerts.channel`; each channel in its own module
(email, Slack, Apprise) registers itself by its ``kind``. Channels take their transport from
outside (an SMTP host and port, a ``requests.Session``), so tests point them at real local
servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from alerts.apprise_channel import AppriseChannel
from alerts.channel import ROUTING_KEYS, Channel, Option, route_name
from alerts.email_channel import EmailChannel
from alerts.exceptions import ConfigError
from alerts.slack_channel import SlackChannel

__all__ = [
    "ROUTING_KEYS", "AppriseChannel", "Channel", "EmailChannel", "Option", "SlackChannel",
    "channel_from_config",
]


def channel_from_config(
    entry: Mapping[str, Any], *, session: requests.Session | None = None
) -> Channel:
    """The channel for one ``[[alerts]]`` table, dispatched on its ``channel`` key."""
    kind = entry.get("channel")
    cls = Channel.registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        supported = ", ".join(f'"{k}"' for k in sorted(Channel.registry))
        got = f"unknown channel {kind!r}" if kind is not None else "no channel"
        raise ConfigError(f"alerts.{route_name(entry)}: {got}; supported: {supported}")
    return cls.from_config(entry, session=session)
