"""The outbox (``outbound_messages``): queueing messages inside the caller's transaction.

Queueing in the same transaction as the change it reports means a message exists exactly when
the change committed. Each message gets a ``deliver_message`` job in the same transaction; the
worker delivers it through its channel (``email``, ``webhook``...) with retries and backoff,
so delivery never blocks or fails a booking. A message whose job gives up is ``dead``: visible
in ``meetbridge outbox list`` and ``meetbridge jobs list``, and retried with
``meetbridge outbox retry ID``.

Secrets in messages: a value that must reach the recipient but must not sit in the database
in plaintext (a client's private manage link) is *sealed*: the rendered text carries a
placeholder, the payload carries the value encrypted by the vault, and only the delivery step
puts the two together. Once sent, the sealed values are dropped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.jobs import queue
from meetbridge.models import Job, JobStatus, MessageStatus, OutboundMessage, Role, User
from meetbridge.providers import Secret
from meetbridge.vault import Vault

DELIVER_MESSAGE = "deliver_message"
DELIVERY_MAX_ATTEMPTS = 12  # backoff 5 s doubling (jittered): dead after ~1.5 to 3 hours
SEALED_KEY = "sealed"


def delivery_job_key(message_id: int) -> str:
    return f"deliver:{message_id}"


def queue_message(
    session: Session,
    *,
    channel: str,
    kind: str,
    recipient: str,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    payload: dict[str, Any] | None = None,
    booking_id: int | None = None,
    run_at: datetime | None = None,
    max_attempts: int = DELIVERY_MAX_ATTEMPTS,
) -> OutboundMessage:
    """Add a message to the outbox and its delivery job, in ``session``'s transaction.

    ``channel`` names a registered delivery channel (:mod:`meetbridge.notifications.delivery`):
    ``"email"`` (``recipient`` is an address) or ``"webhook"`` (``recipient`` is the endpoint
    URL, the body in ``payload``). ``payload`` must be JSON data.
    """
    message = new_message(
        session,
        channel=channel,
        kind=kind,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        payload=payload,
        booking_id=booking_id,
    )
    add_delivery_jobs(session, [message], run_at=run_at, max_attempts=max_attempts)
    return message


def new_message(
    session: Session,
    *,
    channel: str,
    kind: str,
    recipient: str,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    payload: dict[str, Any] | None = None,
    booking_id: int | None = None,
) -> OutboundMessage:
    """A message added to the session, *without* its delivery job: give it one with
    :func:`add_delivery_jobs` in the same transaction (several messages at once take one
    flush: that is what this split is for)."""
    message = OutboundMessage(
        channel=channel,
        kind=kind,
        recipient=recipient,
        subject=subject[:500],
        body_text=body_text,
        body_html=body_html,
        booking_id=booking_id,
        payload=payload or {},
        status=MessageStatus.QUEUED,
        attempts=0,
    )
    session.add(message)
    return message


def add_delivery_jobs(
    session: Session,
    messages: list[OutboundMessage],
    *,
    run_at: datetime | None = None,
    max_attempts: int = DELIVERY_MAX_ATTEMPTS,
) -> None:
    """The ``deliver_message`` job of each new message (from :func:`new_message`)."""
    if not messages:
        return
    session.flush()  # the jobs need the messages' ids (one flush for all of them)
    for message in messages:
        # The key names a message made in this transaction, so it is new: no look-up.
        queue.add_new(
            session,
            DELIVER_MESSAGE,
            # max_attempts is kept in the payload so that a retry can restore it.
            {"message_id": message.id, "max_attempts": max_attempts},
            key=delivery_job_key(message.id),
            run_at=run_at,
            max_attempts=max_attempts,
        )


def queue_email(
    session: Session,
    *,
    kind: str,
    recipient: str,
    subject: str,
    body_text: str,
    booking_id: int | None = None,
    body_html: str = "",
    payload: dict | None = None,
) -> OutboundMessage:
    """A plain email (kept for callers that write their own text; prefer the message
    builders in :mod:`meetbridge.notifications.messages`)."""
    return queue_message(
        session,
        channel="email",
        kind=kind,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        booking_id=booking_id,
        payload=payload,
    )


def admin_emails(session: Session, organization_id: int) -> list[str]:
    return [u.email for u in admins(session, organization_id)]


def admins(session: Session, organization_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(
                User.organization_id == organization_id,
                User.role == Role.ADMIN,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )


# -- sealed values --------------------------------------------------------------------------------
def placeholder(name: str) -> str:
    """What rendered text carries instead of the sealed value ``name`` (HTML-safe)."""
    return f"@@sealed:{name}@@"


def seal(vault: Vault, values: dict[str, str]) -> dict[str, str]:
    """Encrypt ``values`` for a message payload (``payload["sealed"]``)."""
    return {
        name: vault.encrypt_secret(Secret(value)).decode("ascii") for name, value in values.items()
    }


def unseal(vault: Vault, payload: dict[str, Any], text: str, *, as_html: bool = False) -> str:
    """Put the sealed values of ``payload`` back into ``text`` (escaped for HTML)."""
    for name, ciphertext in (payload.get(SEALED_KEY) or {}).items():
        mark = placeholder(name)
        if mark in text:
            value = vault.decrypt(ciphertext.encode("ascii"))
            text = text.replace(mark, html.escape(value) if as_html else value)
    return text


# -- operating the outbox (the CLI calls these) ---------------------------------------------------
@dataclass(frozen=True)
class MessageRow:
    id: int
    channel: str
    kind: str
    recipient: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    booking_id: int | None


def list_messages(
    session: Session, *, status: str | None = None, limit: int = 50
) -> list[MessageRow]:
    """The newest messages first, optionally only one status (queued, sent, dead)."""
    stmt = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(OutboundMessage.status == MessageStatus(status))
    return [
        MessageRow(
            m.id,
            m.channel,
            m.kind,
            m.recipient,
            str(m.status),
            m.attempts,
            m.created_at,
            m.sent_at,
            m.last_error,
            m.booking_id,
        )
        for m in session.scalars(stmt)
    ]


def retry_message(session: Session, message_id: int) -> OutboundMessage:
    """Queue a dead message again (its delivery job is revived, or made if missing)."""
    message = session.get(OutboundMessage, message_id)
    if message is None:
        raise LookupError(f"No message {message_id}.")
    if message.status != MessageStatus.DEAD:
        raise ValueError(
            f"Message {message_id} is {message.status}, not dead; only dead messages are retried."
        )
    message.status = MessageStatus.QUEUED
    message.attempts = 0
    message.last_error = None
    job = delivery_job(session, message_id)
    if job is None:
        queue.enqueue(
            session,
            DELIVER_MESSAGE,
            {"message_id": message_id, "max_attempts": DELIVERY_MAX_ATTEMPTS},
            key=delivery_job_key(message_id),
            max_attempts=DELIVERY_MAX_ATTEMPTS,
        )
    else:
        job.status = JobStatus.QUEUED
        job.attempts = 0
        # A permanent failure shortened the job's attempts; a retry gets them all back.
        job.max_attempts = int(job.payload.get("max_attempts", DELIVERY_MAX_ATTEMPTS))
        job.run_at = utcnow()
        job.last_error = None
        job.locked_at = None
    return message


def delivery_job(session: Session, message_id: int) -> Job | None:
    return session.scalars(
        select(Job).where(Job.idempotency_key == delivery_job_key(message_id))
    ).first()
