"""How email leaves the process: ``file`` (the embedded default), ``smtp``, ``console``.

Transports are synchronous (``smtplib``, file writes) and are run in a thread by the email
channel, so a slow mail server never stalls the event loop. They raise
:class:`~meetbridge.notifications.delivery.DeliveryError`, saying whether a retry can help.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import IO, Protocol

from meetbridge.notifications.delivery import DeliveryError
from meetbridge.notifications.links import calendar_domain
from meetbridge.settings import EmailSettings, Settings


class Transport(Protocol):
    def send(self, message: EmailMessage, *, message_id: int, kind: str) -> str:
        """Send ``message``; return where it went (for logs and the CLI)."""


def outbox_directory(settings: Settings) -> Path:
    """Where the file transport writes: ``email.directory``, else ``<data_dir>/outbox``."""
    return settings.email.directory or settings.data_dir / "outbox"


def describe(settings: Settings) -> str:
    """One line for people: where email goes with these settings."""
    cfg = settings.email
    if cfg.transport == "file":
        return f".eml files in {outbox_directory(settings).resolve()}"
    if cfg.transport == "console":
        return "printed on the standard output of the process that sends (console transport)"
    return f"SMTP server {cfg.smtp_host}:{cfg.smtp_port} ({cfg.smtp_security})"


class FileTransport:
    """Each message becomes ``<UTC time>-<id>-<kind>.eml``, readable by any mail client.

    The folder is private (0700) and the files 0600: messages hold join links and the
    client's private manage link.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage, *, message_id: int, kind: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.directory / f"{stamp}-{message_id:06d}-{kind}.eml"
        tmp = target.with_suffix(".eml.tmp")
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)  # a reader never sees half a message
        return str(target)


class ConsoleTransport:
    """For development: the headers and the plain-text part, printed."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, message: EmailMessage, *, message_id: int, kind: str) -> str:
        stream = self.stream or sys.stdout
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        files = [part.get_filename() for part in message.iter_attachments()]
        lines = [
            f"----- email {message_id} ({kind}) -----",
            f"From: {message['From']}",
            f"To: {message['To']}",
            f"Subject: {message['Subject']}",
            "",
            text.rstrip(),
        ]
        if files:
            lines.append(f"[attached: {', '.join(f for f in files if f)}]")
        stream.write("\n".join(lines) + "\n\n")
        stream.flush()
        return "console"


class SmtpTransport:
    """SMTP with STARTTLS (port 587), implicit TLS (``ssl``, port 465) or none, and login."""

    def __init__(self, settings: Settings) -> None:
        self.cfg: EmailSettings = settings.email
        self.helo = calendar_domain(settings)

    def _context(self) -> ssl.SSLContext:
        ca = self.cfg.smtp_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        if cfg.smtp_security == "ssl":
            return smtplib.SMTP_SSL(
                cfg.smtp_host,
                cfg.smtp_port,
                local_hostname=self.helo,
                timeout=cfg.smtp_timeout_seconds,
                context=self._context(),
            )
        return smtplib.SMTP(
            cfg.smtp_host, cfg.smtp_port, local_hostname=self.helo, timeout=cfg.smtp_timeout_seconds
        )

    def send(self, message: EmailMessage, *, message_id: int, kind: str) -> str:
        cfg = self.cfg
        where = f"{cfg.smtp_host}:{cfg.smtp_port}"
        sender = parseaddr(cfg.from_address)[1] or cfg.from_address
        recipients = [parseaddr(message["To"])[1]]
        try:
            with self._connect() as client:
                client.ehlo()
                if cfg.smtp_security == "starttls":
                    if not client.has_extn("starttls"):
                        raise DeliveryError(
                            f"The SMTP server {where} does not offer STARTTLS; set"
                            " email.smtp_security to 'ssl' or (on a trusted network) 'none'."
                        )
                    client.starttls(context=self._context())
                    client.ehlo()
                if cfg.smtp_username:
                    client.login(cfg.smtp_username, cfg.smtp_password.get_secret_value())
                client.send_message(message, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise DeliveryError(
                f"{where} refused the recipient: {code} {_text(reply)}", retryable=code < 500
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            # A configuration problem: retried with backoff so that fixing it is enough.
            raise DeliveryError(
                f"{where} refused the login of {cfg.smtp_username!r}: {exc.smtp_code}"
                f" {_text(exc.smtp_error)}. Check email.smtp_username and email.smtp_password."
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                retryable=exc.smtp_code < 500,
            ) from None
        except ssl.SSLError as exc:
            raise DeliveryError(
                f"TLS with {where} failed ({exc.reason or exc}); if the server uses a private"
                " certificate authority, set email.smtp_ca_file."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None
        return f"smtp://{where}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def transport_for(settings: Settings) -> Transport:
    kind = settings.email.transport
    if kind == "smtp":
        return SmtpTransport(settings)
    if kind == "console":
        return ConsoleTransport()
    return FileTransport(outbox_directory(settings))
