"""Email alerts over SMTP (smtplib): STARTTLS, implicit TLS or none; optional login."""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from hashlib import sha256
from typing import ClassVar

from alerts.channel import (
    Channel,
    ConfigError,
    DeliveryError,
    Option,
    char_count,
    duration_seconds,
    email_address,
    email_addresses,
    existing_file,
    one_of,
    port_number,
)
from alerts.message import Message, clean, html_body, subject, text_body

log = logging.getLogger("wpwatch.alerts.email")


class EmailChannel(Channel):
    """SMTP (smtplib): STARTTLS, implicit TLS or none; optional login; multipart text + HTML."""

    kind = "email"
    options = (
        Option("to", "recipient addresses", email_addresses, required=True),
        Option("from", "sender address", email_address, required=True),
        Option("smtp_host", "SMTP server host name", required=True),
        Option(
            "smtp_port",
            "SMTP port (default 587 for starttls, 465 for ssl, 25 for none)",
            port_number,
        ),
        Option(
            "security",
            '"starttls", "ssl" or "none"',
            one_of("starttls", "ssl", "none"),
            default="starttls",
        ),
        Option("username", "login name (with password)"),
        Option("password", "login password, best as env:NAME", secret=True),
        Option(
            "ca_file", "PEM file of CA certificates to trust (a self-signed server)", existing_file
        ),
        Option(
            "timeout", 'seconds to wait for the server, e.g. "30s"', duration_seconds, default=30.0
        ),
        Option(
            "max_chars",
            "longest text part; the diff excerpt is cut to fit",
            char_count,
            default=60_000,
        ),
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


