"""Slack alerts: one POST of a Block Kit payload to an incoming webhook."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from alerts.channel import Channel, Option, duration_seconds, web_url
from alerts.message import Message, clean
from alerts.slack_message import slack_payload


class _HideRequestPaths(logging.Filter):
    """urllib3 logs every request line at DEBUG (`wpwatch -v`); a webhook URL's path is
    its secret (Slack: /services/T…/B…/token), so the path is replaced by ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 5 and isinstance(args[4], str):
            record.args = (*args[:4], "/***", *args[5:])
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_HideRequestPaths())


class SlackChannel(Channel):
    """A Slack incoming webhook: one POST of a Block Kit payload."""

    kind = "slack"
    options = (
        Option("webhook_url", "the incoming webhook URL, best as env:NAME", web_url,
               required=True, secret=True),
        Option("timeout", 'seconds to wait for Slack, e.g. "10s"', duration_seconds, default=10.0),
    )

    def __init__(
        self, name: str, settings: Mapping[str, Any], refs: Mapping[str, str],
        *, session: requests.Session | None = None,
    ) -> None:
        super().__init__(name, settings, refs)
        self.session = session

    @property
    def host(self) -> str:
        return urlsplit(self.settings["webhook_url"]).hostname or "?"

    def describe(self) -> str:
        parts = urlsplit(self.settings["webhook_url"])
        source = f" (from ${self.refs['webhook_url']})" if "webhook_url" in self.refs else ""
        return f"slack {self.label}: POST Block Kit to {parts.scheme}://{parts.netloc}/***{source}"

    def send(self, msg: Message) -> None:
        if self.session is not None:
            self._post(self.session, slack_payload(msg))
        else:
            with requests.Session() as session:
                self._post(session, slack_payload(msg))

    def _post(self, session: requests.Session, payload: dict[str, Any]) -> None:
        at = f"the Slack webhook of {self.label} (host {self.host})"
        try:
            response = session.post(
                self.settings["webhook_url"], json=payload, timeout=self.settings["timeout"],
                allow_redirects=False,
            )
        except requests.Timeout:
            raise self.error(
                f"{at} did not answer within {self.settings['timeout']:g}s") from None
        except requests.ConnectionError as exc:
            why = "connection refused" if "refused" in str(exc).lower() else "connection failed"
            raise self.error(f"cannot reach {at}: {why}") from None
        except requests.RequestException as exc:
            raise self.error(f"cannot post to {at}: {type(exc).__name__}") from None
        with response:
            status, text = response.status_code, clean(response.text)[:200]
            if 200 <= status < 300:
                return
            retry_after = _retry_after(response.headers.get("Retry-After"))
        reason = f"{at} answered HTTP {status}" + (f" {text}" if text else "")
        if status == 429:
            wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            raise self.error(f"{reason}: rate limited{wait}", retry_after=retry_after)
        if status in (403, 404, 410):
            raise self.error(
                f"{reason}: the webhook is invalid, removed or its channel archived; create one "
                f"and update {self.hint('webhook_url')}", permanent=True)
        if status == 400:
            raise self.error(f"{reason}: Slack refused the message (a wpwatch bug: please "
                             "report it)", permanent=True)
        raise self.error(reason, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


