"""Alerts: channels (email, Slack, Apprise) and what a message says.

The outbox, routing rules and delivery loop decide what is due; this package formats a
:class:`Message` and sends it through a :class:`Channel`.
"""

from __future__ import annotations

from alerts.channels import Channel, channel_from_config
from alerts.exceptions import AlertError, ConfigError, DeliveryError
from alerts.message import AlertItem, Message, test_message

__all__ = [
    "AlertError",
    "AlertItem",
    "Channel",
    "ConfigError",
    "DeliveryError",
    "Message",
    "channel_from_config",
    "test_message",
]
