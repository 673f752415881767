"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), as pytest fixtures.

* ``smtp_server``: STARTTLS required, then AUTH LOGIN/PLAIN as ``SMTPServer.USER`` /
  ``SMTPServer.PASSWORD``; the certificate is self-signed (``tls_cert``), trust it with
  ``ca_file = tls_cert.cert``.
* ``smtp_ssl_server``: the same over implicit TLS (port 465 style).
* ``smtp_plain_server``: no TLS, no AUTH.

Each keeps what it received (``server.messages``, ``server.wait_message()``) and can be
stopped and started again on the same port to simulate an outage::

    smtp_server.stop()      # connection refused from now on
    smtp_server.start()     # back, same port

Use: list ``"tests.smtpserver"`` in ``pytest_plugins`` of conftest.py, or import the fixtures.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import queue
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Self

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Cert:
    cert: Path  # PEM certificate (self-signed: also the CA file to trust)
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_cert(directory: Path) -> Cert:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wpwatch test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = Cert(directory / "smtp-cert.pem", directory / "smtp-key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # the message exactly as it arrived
    login: str | None  # who authenticated, if anyone
    tls: bool

    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=default_policy)  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SMTPServer:
    USER = "alerts@example.org"
    PASSWORD = "s3cret-Passw0rd-9f2c"

    def __init__(self, *, mode: str = "starttls", cert: Cert | None = None, auth: bool = True):
        assert mode in ("starttls", "ssl", "plain")
        assert mode == "plain" or cert is not None
        self.mode, self.cert, self.auth = mode, cert, auth
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages: list[Received] = []
        self._arrivals: queue.Queue[Received] = queue.Queue()
        self._controller: Controller | None = None

    # -- aiosmtpd hooks
    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.USER.encode()
            and data.password == self.PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        login = session.auth_data
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            login=login.login.decode() if isinstance(login, LoginPassword) else None,
            tls=session.ssl is not None or self.mode == "ssl",  # the whole connection is TLS
        )
        self.messages.append(received)
        self._arrivals.put(received)
        return "250 Message accepted for delivery"

    # -- control
    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.mode == "starttls":
            assert self.cert
            kwargs.update(tls_context=self.cert.server_context(), require_starttls=True)
        elif self.mode == "ssl":
            assert self.cert
            kwargs.update(ssl_context=self.cert.server_context())
        if self.auth:
            # aiosmtpd counts only STARTTLS as TLS; on an implicit-TLS port everything is TLS.
            kwargs.update(authenticator=self._authenticate, auth_required=self.mode == "starttls",
                          auth_require_tls=self.mode == "starttls")
        self._controller = Controller(self, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_message(self, timeout: float = 10) -> Received:
        return self._arrivals.get(timeout=timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def email_alert_toml(smtp: SMTPServer, ca_file: Path | str, name: str = "desk-email") -> str:
    """A [[alerts]] email table for this server: STARTTLS, login from the environment.

    The secrets are `env:` references (WPWATCH_TEST_SMTP_USER / _PASSWORD), as
    users are told to configure them.
    """
    return f"""
[[alerts]]
name = "{name}"
channel = "email"
to = ["desk@example.org"]
from = "wpwatch@example.org"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
security = "starttls"
ca_file = "{ca_file}"
username = "env:WPWATCH_TEST_SMTP_USER"
password = "env:WPWATCH_TEST_SMTP_PASSWORD"
timeout = "5s"
"""


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server(tls_cert: Cert) -> Iterator[SMTPServer]:
    with SMTPServer(mode="starttls", cert=tls_cert) as server:
        yield server


@pytest.fixture
def smtp_ssl_server(tls_cert: Cert) -> Iterator[SMTPServer]:
    with SMTPServer(mode="ssl", cert=tls_cert) as server:
        yield server


@pytest.fixture
def smtp_plain_server() -> Iterator[SMTPServer]:
    with SMTPServer(mode="plain", auth=False) as server:
        yield server
