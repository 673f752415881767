"""Alert channels: where a :class:`~alerts.message.Message` goes.

A small registry keyed on each class's ``kind`` (``channel = "email"`` in an ``[[alerts]]``
table). The :class:`Option` list declared on a class validates its table, refuses unknown keys
with the supported ones, and gives the help text. String values may be ``"env:NAME"``: they
are resolved when the channel is built, and a missing variable is a ConfigError naming it.

Channels take their transport from outside (an SMTP host and port, a ``requests.Session``),
so tests point them at real local servers. ``send`` raises :class:`DeliveryError` with one
line that names the channel, the host and the fix, and never a secret.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr, parsedate_to_datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from alerts.exceptions import ConfigError, DeliveryError
from alerts.message import Message, clean, html_body, slack_payload, subject, text_body
from wpwatch.values import parse_duration, resolve_env


class _HideRequestPaths(logging.Filter):
    """urllib3 logs every request line at DEBUG (`wpwatch -v`); a webhook URL's path is
    its secret (Slack: /services/T…/B…/token), so the path is replaced by ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 5 and isinstance(args[4], str):
            record.args = (*args[:4], "/***", *args[5:])
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_HideRequestPaths())

log = logging.getLogger(__name__)

# Keys of an [[alerts]] table that the routing rules read; every channel accepts and ignores them.
ROUTING_KEYS = ("name", "channel", "sites", "kinds", "keywords", "digest", "digest_at")


# -- options -------------------------------------------------------------------------------------
def _str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    if any(c in value for c in "\r\n\0"):
        raise ValueError("must be one line")
    return value.strip()


def _address(value: Any) -> str:
    value = _str(value)
    if "@" not in parseaddr(value)[1]:
        raise ValueError("must be an email address")
    return value


def _addresses(value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise ValueError('must be a list of email addresses, e.g. ["desk@example.org"]')
    return tuple(_address(v) for v in values)


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError("must be a port number (1-65535)")
    return value


def _seconds(value: Any) -> float:
    try:
        return parse_duration(value, "timeout")
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("bad timeout ")) from None


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1000:
        raise ValueError("must be a whole number of characters, at least 1000")
    return value


def _file(value: Any) -> str:
    path = _str(value)
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    return path


def _web_url(value: Any) -> str:
    value = _str(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
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
    convert: Callable[[Any], Any] = _str
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
        name = _name(entry)
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


def _name(entry: Mapping[str, Any]) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError('each [[alerts]] table needs a name, e.g. name = "desk-email"')
    return name.strip()


def channel_from_config(
    entry: Mapping[str, Any], *, session: requests.Session | None = None
) -> Channel:
    """The channel for one ``[[alerts]]`` table, dispatched on its ``channel`` key."""
    kind = entry.get("channel")
    cls = Channel.registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        supported = ", ".join(f'"{k}"' for k in sorted(Channel.registry))
        got = f"unknown channel {kind!r}" if kind is not None else "no channel"
        raise ConfigError(f"alerts.{_name(entry)}: {got}; supported: {supported}")
    return cls.from_config(entry, session=session)


# -- email ---------------------------------------------------------------------------------------
class EmailChannel(Channel):
    """SMTP (smtplib): STARTTLS, implicit TLS or none; optional login; multipart text + HTML."""

    kind = "email"
    options = (
        Option("to", "recipient addresses", _addresses, required=True),
        Option("from", "sender address", _address, required=True),
        Option("smtp_host", "SMTP server host name", required=True),
        Option("smtp_port", "SMTP port (default 587 for starttls, 465 for ssl, 25 for none)",
               _port),
        Option("security", '"starttls", "ssl" or "none"', _choice("starttls", "ssl", "none"),
               default="starttls"),
        Option("username", "login name (with password)"),
        Option("password", "login password, best as env:NAME", secret=True),
        Option("ca_file", "PEM file of CA certificates to trust (a self-signed server)", _file),
        Option("timeout", 'seconds to wait for the server, e.g. "30s"', _seconds, default=30.0),
        Option("max_chars", "longest text part; the diff excerpt is cut to fit", _count,
               default=60_000),
    )
    DEFAULT_PORTS: ClassVar[dict[str, int]] = {"starttls": 587, "ssl": 465, "none": 25}

    def validate(self) -> None:
        s = self.settings
        if bool(s["username"]) != bool(s["password"]):
            raise ConfigError(f"{self.label}: set both username and password, or neither")
        if s["password"] and s["security"] == "none":
            raise ConfigError(
                f'{self.label}: refusing to send the SMTP password unencrypted (security = "none");'
                ' use security = "starttls" or "ssl"'
            )
        if s["ca_file"] and s["security"] == "none":
            raise ConfigError(f'{self.label}: ca_file needs security = "starttls" or "ssl"')

    @property
    def host(self) -> str:
        return str(self.settings["smtp_host"])

    @property
    def port(self) -> int:
        return int(self.settings["smtp_port"] or self.DEFAULT_PORTS[self.settings["security"]])

    def describe(self) -> str:
        s = self.settings
        login = (
            f", login {self.shown('username')} / {self.shown('password')}" if s["username"] else ""
        )
        ca = f", trusting {s['ca_file']}" if s["ca_file"] else ""
        return (
            f"email {self.label}: to {', '.join(s['to'])} from {s['from']} via "
            f"{self.host}:{self.port} ({s['security']}{login}{ca})"
        )

    def build(self, msg: Message) -> EmailMessage:
        """The message as it will be sent: multipart/alternative, text then HTML."""
        s = self.settings
        email = EmailMessage()
        email["Subject"] = subject(msg)
        email["From"] = s["from"]
        email["To"] = ", ".join(s["to"])
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = _message_id(msg, parseaddr(s["from"])[1].rpartition("@")[2])
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(text_body(msg, limit=s["max_chars"]))
        email.add_alternative(html_body(msg, limit=s["max_chars"]), subtype="html")
        return email

    def send(self, msg: Message) -> None:
        email = self.build(msg)
        s = self.settings
        stage = "connect"
        try:
            context = ssl.create_default_context(cafile=s["ca_file"])
            smtp: smtplib.SMTP
            if s["security"] == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=s["timeout"],
                                        context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=s["timeout"])
            with smtp:
                if s["security"] == "starttls":
                    stage = "starttls"
                    smtp.starttls(context=context)
                if s["username"]:
                    stage = "login"
                    smtp.login(s["username"], s["password"])
                stage = "send"
                refused = smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._smtp_error(exc, stage) from None
        if refused:
            log.warning("%s: the SMTP server refused %s", self.label, ", ".join(sorted(refused)))

    def _smtp_error(self, exc: BaseException, stage: str) -> DeliveryError:
        at = f"{self.label} (host {self.host}:{self.port})"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            check = " and ".join(self.hint(o) for o in ("username", "password") if o in self.refs)
            return self.error(
                f"SMTP login failed for {self.label} (host {self.host}): check "
                f"{check or self.hint('password')} (server answered {exc.smtp_code})",
                permanent=True,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            fix = (
                'does not offer STARTTLS: use security = "ssl" (port 465) or "none"'
                if stage == "starttls"
                else "does not offer login (AUTH): remove username and password"
            )
            return self.error(f"SMTP server for {at} {fix}", permanent=True)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self.error(
                f"TLS certificate of {self.host} not trusted for {self.label} "
                f"({exc.verify_message}): set ca_file to the CA that signed it, or fix the "
                "server's certificate",
                permanent=True,
            )
        if isinstance(exc, ssl.SSLError):
            return self.error(
                f"TLS handshake failed for {at} ({exc.reason or 'SSL error'}): check security "
                '("ssl" is usually port 465, "starttls" port 587)'
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            who = ", ".join(f"{a} ({code})" for a, (code, _) in sorted(exc.recipients.items()))
            return self.error(f"SMTP server for {at} refused every recipient: {who}; check to",
                              permanent=True)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return self.error(
                f"SMTP server for {at} refused the sender {exc.sender} ({exc.smtp_code}): "
                "check from", permanent=True)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return self.error(f"SMTP server for {at} closed the connection ({stage})")
        if isinstance(exc, smtplib.SMTPResponseException):
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            return self.error(
                f"SMTP server for {at} answered {exc.smtp_code} {clean(text)[:200]} ({stage})",
                permanent=500 <= exc.smtp_code < 600,
            )
        if isinstance(exc, smtplib.SMTPException):
            return self.error(f"SMTP error for {at} ({stage}): {clean(exc)[:200]}")
        if isinstance(exc, ConnectionRefusedError):
            return self.error(
                f"cannot reach the SMTP server for {at}: connection refused; is it running, "
                "and are smtp_host and smtp_port right?"
            )
        if isinstance(exc, socket.gaierror):
            return self.error(f"cannot resolve {self.host} for {self.label}: check smtp_host")
        if isinstance(exc, TimeoutError):
            return self.error(
                f"SMTP server for {at} did not answer within {self.settings['timeout']:g}s "
                f"({stage})"
            )
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return self.error(f"cannot reach the SMTP server for {at}: {clean(reason)} ({stage})")


def _message_id(msg: Message, domain: str) -> str:
    """The same message for the same changes has the same Message-ID, so a retry after an
    ambiguous failure can be recognised as a duplicate by the receiving side."""
    if msg.test or not msg.items:
        return make_msgid("wpwatch", domain=domain or None)
    key = f"{msg.channel}|{msg.digest}|{','.join(str(i.change_id) for i in msg.items)}"
    return f"<wpwatch.{sha256(key.encode()).hexdigest()[:32]}@{domain or 'wpwatch'}>"


# -- Slack ---------------------------------------------------------------------------------------
class SlackChannel(Channel):
    """A Slack incoming webhook: one POST of a Block Kit payload."""

    kind = "slack"
    options = (
        Option("webhook_url", "the incoming webhook URL, best as env:NAME", _web_url,
               required=True, secret=True),
        Option("timeout", 'seconds to wait for Slack, e.g. "10s"', _seconds, default=10.0),
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


# -- Apprise -------------------------------------------------------------------------------------
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
        Option("max_chars", "longest message body", _count, default=4000),
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
        except Exception as exc:
            raise self.error(f"Apprise failed for {self.label} ({clean(self.scheme)}://): "
                             f"{type(exc).__name__}") from None
        if not ok:
            raise self.error(
                f"Apprise could not deliver {self.label} via {clean(self.scheme)}:// "
                "(its log says why)"
            )
