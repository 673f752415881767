"""Alerts through Apprise (an optional package): Discord, Teams, Matrix, ntfy, webhooks."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alerts.channel import Channel, ConfigError, Option, char_count
from alerts.message import Message, clean, subject, text_body


def _apprise(label: str) -> Any:
    try:
        import apprise
    except ImportError:
        raise ConfigError(
            f'{label}: channel "apprise" needs the apprise package: '
            "pip install 'wpwatch[apprise]'"
        ) from None
    return apprise


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    """Apprise's plugins import the deprecated stdlib ``imghdr``: not ours to fix or report."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        yield


class AppriseChannel(Channel):
    """Any other service (Discord, Teams, Matrix, ntfy, webhooks) through an Apprise URL."""

    kind = "apprise"
    options = (
        Option("url", "an Apprise URL, e.g. env:WPWATCH_APPRISE_URL (see the Apprise wiki)",
               required=True, secret=True),
        Option("max_chars", "longest message body", char_count, default=4000),
    )

    @property
    def scheme(self) -> str:
        return self.settings["url"].partition("://")[0] or "?"

    def validate(self) -> None:
        apprise = _apprise(self.label)
        with _quiet_apprise():
            ok = apprise.Apprise().add(self.settings["url"])
        if not ok:
            raise ConfigError(
                f"{self.label}: Apprise does not understand url (scheme {clean(self.scheme)!r}"
                f"{', from ' + self.refs['url'] if 'url' in self.refs else ''}); see "
                "https://github.com/caronc/apprise/wiki"
            )

    def describe(self) -> str:
        return f"apprise {self.label}: {clean(self.scheme)}://*** ({self.shown('url')})"

    def send(self, msg: Message) -> None:
        apprise = _apprise(self.label)
        try:
            with _quiet_apprise():
                notifier = apprise.Apprise()
                notifier.add(self.settings["url"])
                ok = notifier.notify(
                    title=subject(msg),
                    body=text_body(msg, limit=self.settings["max_chars"]),
                    body_format=apprise.NotifyFormat.TEXT,
                )
        except Exception as exc:  # a plug-in's failure is a failed delivery
            raise self.error(f"Apprise failed for {self.label} ({clean(self.scheme)}://): "
                             f"{type(exc).__name__}") from None
        if not ok:
            raise self.error(
                f"Apprise could not deliver {self.label} via {clean(self.scheme)}:// "
                "(its log says why)"
            )
