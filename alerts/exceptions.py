"""Errors of the alert channels.

``ConfigError`` (from :mod:`wpwatch.exceptions`): an ``[[alerts]]`` table is wrong, names an
unknown channel or key, or refers to an unset environment variable. Fix the config.

``DeliveryError``: a message could not be delivered this time. Its text is one line that names
the channel, the host and the likely fix, and never contains a secret (password, webhook URL,
Apprise URL): it is safe to log, store in the outbox and show in ``wpwatch status``.
"""

from __future__ import annotations

from wpwatch.exceptions import ConfigError, WPWatchError

__all__ = ["AlertError", "ConfigError", "DeliveryError"]


class AlertError(WPWatchError):
    """Base of the errors raised while sending alerts."""


class DeliveryError(AlertError):
    """A send failed. ``retry_after``: seconds the service asked us to wait (HTTP 429).

    ``permanent`` is a hint that retrying without changing the config will not help (login
    refused, certificate not trusted, webhook gone); the outbox may still retry it.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
