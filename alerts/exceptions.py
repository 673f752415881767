"""Errors of the alert channels.

``ConfigError`` (from :mod:`core.exceptions`): an ``[[alerts]]`` table is wrong, names an
unknown channel or key, or refers to an unset environment variable. Fix the config.

``DeliveryError``: a message could not be delivered this time. Its text is one line that names
the channel, the host and the likely fix, and never contains a secret (password, webhook URL,
Apprise URL): it is safe to log, store in the outbox and show in ``wpwatch status``.
"""

from __future__ import annotations

from core.exceptions import AlertError, ConfigError, DeliveryError

__all__ = ["AlertError", "ConfigError", "DeliveryError"]
