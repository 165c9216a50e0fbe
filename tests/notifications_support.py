"""Helpers for the notification tests: a real SMTP server (aiosmtpd) on 127.0.0.1, a
self-signed certificate for its TLS, and shortcuts to deliver and parse what was queued."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from icalendar import Calendar
from sqlalchemy import update

from meetbridge.db import utcnow
from meetbridge.models import Job, JobStatus
from tests.world import World

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost that is also its own CA (for ``smtp_ca_file``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meetbridge test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps what it receives, or refuses with ``refuse`` (a reply)."""

    refuse: str | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refused: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            self.refused += 1
            return self.refuse
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class _Authenticator:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            self.mailbox.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    security: str = "none", *, certificate: tuple[Path, Path] | None = None, auth: bool = False
) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 (a free port): ``none``, ``starttls`` or ``ssl``."""
    mailbox = Mailbox()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if security != "none":
        assert certificate is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, certificate))
        if security == "ssl":
            kwargs["ssl_context"] = context
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    if auth:
        # With implicit TLS aiosmtpd does not see the session as "TLS", though it is.
        kwargs.update(
            authenticator=_Authenticator(mailbox),
            auth_required=True,
            auth_require_tls=security == "starttls",
        )
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def use_smtp(world: World, port: int, **options: Any) -> None:
    settings = world.services.settings
    values = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, **options}
    settings.email = type(settings.email).model_validate({**settings.email.model_dump(), **values})


def expire_tokens(world: World, connection_id: int) -> None:
    """Make a connection's access token expired, so its next use refreshes it."""
    from dataclasses import replace

    from meetbridge.models import Connection

    vault = world.services.vault
    with world.services.sessions() as session, session.begin():
        conn = session.get(Connection, connection_id)
        tokens = vault.decrypt_tokens(conn.token_ciphertext)
        expired = replace(tokens, expires_at=utcnow() - dt.timedelta(seconds=5))
        conn.token_ciphertext = vault.encrypt_tokens(expired)


def make_due(world: World) -> None:
    with world.services.sessions() as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.status == JobStatus.QUEUED)
            .values(run_at=utcnow() - dt.timedelta(seconds=1))
        )


async def deliver(world: World) -> int:
    """Run every queued job now (backoff and reminders included) until none is due."""
    ran = 0
    for _ in range(20):
        make_due(world)
        done = await world.bookings.worker.drain()
        ran += done
        if not done:
            break
    return ran


def parse_ics(text: str | bytes) -> Calendar:
    return Calendar.from_ical(text)


def only_event(text: str | bytes) -> Any:
    [event] = parse_ics(text).walk("VEVENT")
    return event


def calendar_part(message: EmailMessage) -> EmailMessage:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return part  # type: ignore[return-value]
