"""Every error wpwatch raises on purpose, in one tree.

A message is written for the person at the terminal: it names the thing and,
where there is one, the fix. The CLI prints ``wpwatch: <message>`` and exits
2; a round turns a :class:`RoundError` into the site's failed outcome; the
outbox stores a :class:`DeliveryError`'s text and retries. No message ever
contains a secret (passwords, webhook URLs, tokens)::

    WPWatchError
    ├── ConfigError            wpwatch.toml or an option is wrong; fix the config
    │   ├── BadURL             a site URL that cannot be watched as given
    │   └── UnknownSite        a name or URL that is neither configured nor archived
    ├── ArchiveError           the archive cannot be opened or used
    │   ├── ExportError        an export cannot be written
    │   └── TimestampError     a time-stamping authority failed or answered wrongly
    ├── RoundError             one site's round cannot go on (the round records it)
    │   ├── Unreachable        no answer: DNS, refused, reset, timeouts
    │   ├── HTTPFault          an answer that is an error: 5xx, 429, a challenge page
    │   ├── NotWordPress       the site answered normally and is not WordPress
    │   ├── RestClosed         WordPress, but its REST API refuses us
    │   ├── WPApiError         an answer that is not what a WordPress REST API sends
    │   └── FallbackError      a feed, sitemap or page of degraded mode cannot be read
    ├── AlertError             sending alerts
    │   └── DeliveryError      one message could not be delivered this time
    └── AlreadyRunning         another daemon holds this archive
"""

from __future__ import annotations


class WPWatchError(Exception):
    """Base of every error wpwatch raises on purpose; its text is for the user."""


class ConfigError(WPWatchError):
    """wpwatch.toml or a command-line value is missing, malformed, or names a missing variable."""


class BadURL(ConfigError, ValueError):
    """A site URL that cannot be watched as given ("add http:// or https://").

    Also a ValueError, as URL parsing errors are in the standard library.
    """


class UnknownSite(ConfigError):
    """A site name or URL that is neither in the config nor in the archive."""


class ArchiveError(WPWatchError):
    """The archive cannot be opened or used (bad URL, not an archive, newer schema, I/O)."""


class ExportError(ArchiveError):
    """An export cannot be written (nothing to export, unwritable path)."""


class TimestampError(ArchiveError):
    """A time-stamping authority could not be reached or answered with a bad token."""


class RoundError(WPWatchError):
    """One site's round cannot go on; the message says why, for the user."""


class Unreachable(RoundError):
    """The site did not answer: DNS, connection refused or reset, timeouts."""


class HTTPFault(RoundError):
    """The site answered with an error (5xx, 429 after retries, a challenge page)."""


class NotWordPress(RoundError):
    """The site answered normally and shows no WordPress REST API."""


class RestClosed(RoundError):
    """WordPress, but the REST API refuses us; ``reason`` is e.g. "401 rest_cannot_access"."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the REST API is closed ({reason})")
        self.reason = reason


class WPApiError(RoundError):
    """A response that is not what a WordPress REST API answers (HTML, truncated JSON)."""


class FallbackError(RoundError):
    """A feed, sitemap or page that degraded mode cannot read."""


class AlertError(WPWatchError):
    """Base of the errors raised while sending alerts."""


class DeliveryError(AlertError):
    """A send failed. ``retry_after``: seconds the service asked us to wait (HTTP 429).

    ``permanent`` is a hint that retrying without changing the config will not help (login
    refused, certificate not trusted, webhook gone); the outbox may still retry it. Its text
    names the channel, the host and the likely fix, and never contains a secret.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class AlreadyRunning(WPWatchError):
    """Another `wpwatch run` holds this archive."""
