"""Delivering outbox messages: the channel registry and the ``deliver_message`` job.

A *channel* is how a message leaves: ``email`` is built in; the web layer registers
``webhook`` for signed platform webhooks. A channel is a function (sync or async)::

    async def deliver(services: Services, message: OutgoingMessage) -> None: ...

It raises :class:`DeliveryError` (``retryable=False`` for a permanent refusal, such as an
unknown mailbox or a 410 from a webhook endpoint); any other exception counts as a temporary
failure. Register it with ``register_channel("webhook", deliver)`` or, so that every process
(the worker too) finds it without importing your module first, with a ``"module:function"``
path: ``register_channel("webhook", "meetbridge.web.platform_webhooks:deliver")``.

The job handler marks the message ``sent``, or records the failure and lets the job queue
retry it with backoff; when the job gives up the message is ``dead`` (both show in the CLI).
Delivery is at least once: a crash between the send and the commit sends again, so email
carries a stable ``Message-ID`` and webhooks should carry the message id for deduplication.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from meetbridge.db import utcnow
from meetbridge.models import JobStatus, MessageStatus, OutboundMessage
from meetbridge.notifications import outbox
from meetbridge.vault import Vault, VaultError

if TYPE_CHECKING:
    from meetbridge.conferencing.lifecycle import SyncOutcome
    from meetbridge.jobs.worker import Worker
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.notifications")


class DeliveryError(Exception):
    """A channel could not deliver; ``retryable`` says whether trying later can help."""

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class OutgoingMessage:
    """A message as a channel receives it (sealed values already put back in)."""

    id: int
    channel: str
    kind: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    payload: Mapping[str, Any]
    booking_id: int | None
    attempts: int  # earlier attempts

    @classmethod
    def of(cls, row: OutboundMessage) -> OutgoingMessage:
        return cls(
            id=row.id,
            channel=row.channel,
            kind=row.kind,
            recipient=row.recipient,
            subject=row.subject,
            body_text=row.body_text,
            body_html=row.body_html,
            payload=dict(row.payload or {}),
            booking_id=row.booking_id,
            attempts=row.attempts,
        )

    def opened(self, vault: Vault) -> OutgoingMessage:
        payload = dict(self.payload)
        if not payload.get(outbox.SEALED_KEY):
            return self
        return replace(
            self,
            subject=outbox.unseal(vault, payload, self.subject),
            body_text=outbox.unseal(vault, payload, self.body_text),
            body_html=outbox.unseal(vault, payload, self.body_html, as_html=True),
            payload={k: v for k, v in payload.items() if k != outbox.SEALED_KEY},
        )


Channel = Callable[["Services", OutgoingMessage], Awaitable[None] | None]

# Built-in channels, imported on first use so that importing this module stays cheap and
# every process (a standalone worker too) finds them without importing the web layer first.
_CHANNELS: dict[str, Channel | str] = {
    "email": "meetbridge.notifications.mail:deliver_email",
    "webhook": "meetbridge.web.platform_webhooks:deliver",  # signed platform webhooks
}


def register_channel(name: str, deliver: Channel | str) -> None:
    """Make ``deliver`` (a function or a ``"module:function"`` path) the channel ``name``."""
    _CHANNELS[name] = deliver


def unregister_channel(name: str) -> None:
    _CHANNELS.pop(name, None)


def channels() -> list[str]:
    return sorted(_CHANNELS)


def channel(name: str) -> Channel:
    found = _CHANNELS.get(name)
    if found is None:
        raise DeliveryError(
            f"No delivery channel {name!r} is registered (known: {', '.join(channels())}).",
            retryable=True,  # a deployment may be mid-upgrade; the dead letter says it later
        )
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = getattr(importlib.import_module(module), attr)
        _CHANNELS[name] = found
    return found


# -- the job ------------------------------------------------------------------------------------
async def deliver_message(services: Services, payload: dict[str, Any]) -> SyncOutcome:
    """Job handler: deliver one queued message through its channel."""
    from meetbridge.conferencing.lifecycle import SyncOutcome

    message_id = int(payload["message_id"])
    with services.sessions() as session, session.begin():
        row = session.get(OutboundMessage, message_id)
        if row is None or row.status == MessageStatus.SENT:
            return SyncOutcome(done=True)  # sent already (a job run twice), or deleted
        if row.status == MessageStatus.DEAD:
            # Its dead job was revived (`meetbridge jobs retry`): the message lives again too.
            row.status = MessageStatus.QUEUED
        message = OutgoingMessage.of(row)
    try:
        assert services.vault is not None
        try:
            opened = message.opened(services.vault)
        except VaultError as exc:
            raise DeliveryError(
                f"{exc} (queued messages carry values sealed with the old key: deliver the"
                " outbox before removing a key)",
                retryable=False,
            ) from None
        result = channel(message.channel)(services, opened)
        if inspect.isawaitable(result):
            await result
    except DeliveryError as exc:
        return _failed(services, message, exc)
    except Exception as exc:  # a bug or an unexpected failure: retry, then dead-letter
        log.exception("delivering message %s (%s) failed", message.id, message.kind)
        return _failed(services, message, DeliveryError(f"{type(exc).__name__}: {exc}"))
    _sent(services, message)
    return SyncOutcome(done=True)


def _sent(services: Services, message: OutgoingMessage) -> None:
    with services.sessions() as session, session.begin():
        row = session.get(OutboundMessage, message.id)
        if row is None:
            return
        row.status = MessageStatus.SENT
        row.sent_at = utcnow()
        row.attempts += 1
        row.last_error = None
        # The sealed values have reached their recipient; nothing keeps them any more.
        row.payload = {k: v for k, v in (row.payload or {}).items() if k != outbox.SEALED_KEY}
    log.info("message %s (%s) sent through %s", message.id, message.kind, message.channel)


def _failed(services: Services, message: OutgoingMessage, error: DeliveryError) -> SyncOutcome:
    from meetbridge.conferencing.lifecycle import SyncOutcome

    with services.sessions() as session, session.begin():
        row = session.get(OutboundMessage, message.id)
        job = outbox.delivery_job(session, message.id)
        if row is not None:
            row.attempts += 1
            row.last_error = error.message[:2000]
            last_try = job is None or job.attempts >= job.max_attempts
            if not error.retryable and job is not None:
                job.max_attempts = job.attempts  # the worker dead-letters it now
            if last_try or not error.retryable:
                row.status = MessageStatus.DEAD
    log.warning(
        "message %s (%s) not delivered through %s: %s",
        message.id,
        message.kind,
        message.channel,
        error.message,
    )
    return SyncOutcome(done=False, error=error.message, retry_after=error.retry_after)


# -- delivering now (`meetbridge outbox send`) --------------------------------------------------
@dataclass(frozen=True)
class SendSummary:
    attempted: int
    sent: int
    waiting: int  # failed this time, will be retried
    dead: int


async def send_now(services: Services, worker: Worker | None = None) -> SendSummary:
    """Deliver every queued message at once, even those waiting for a retry."""
    from meetbridge.jobs import queue
    from meetbridge.jobs.worker import Worker

    worker = worker or Worker(services)
    with services.sessions() as session, session.begin():
        message_ids = list(
            session.scalars(
                select(OutboundMessage.id)
                .where(OutboundMessage.status == MessageStatus.QUEUED)
                .order_by(OutboundMessage.id)
            )
        )
        job_ids = []
        for message_id in message_ids:
            job = outbox.delivery_job(session, message_id) or queue.enqueue(
                session,
                outbox.DELIVER_MESSAGE,
                {"message_id": message_id, "max_attempts": outbox.DELIVERY_MAX_ATTEMPTS},
                key=outbox.delivery_job_key(message_id),
                max_attempts=outbox.DELIVERY_MAX_ATTEMPTS,
            )
            session.flush()
            if job.status == JobStatus.QUEUED:
                job_ids.append(job.id)
    for job_id in job_ids:
        await worker.run_job_now(job_id, None)
    await worker.wait_background()
    with services.sessions() as session:
        statuses = list(
            session.scalars(
                select(OutboundMessage.status).where(OutboundMessage.id.in_(message_ids))
            )
        )
    return SendSummary(
        attempted=len(job_ids),
        sent=statuses.count(MessageStatus.SENT),
        waiting=statuses.count(MessageStatus.QUEUED),
        dead=statuses.count(MessageStatus.DEAD),
    )
