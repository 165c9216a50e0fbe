"""Outgoing webhooks to an organisation's platform, signed with HMAC-SHA256.

Events: ``conferencing.provisioned`` (a booking's meeting exists, with its join link),
``conferencing.failed`` (the booking has no meeting: the provider failed for good, or no
provider could host it), ``connection.needs_reconnect`` and ``connection.revoked``.

They go through the outbox: :mod:`meetbridge.web.platform_events` notices the changes and,
in the same transaction, :func:`emit` queues one ``outbound_messages`` row (channel
``webhook``) per subscription that wants the event. A message therefore exists
exactly when the change committed; :func:`deliver` sends it later (from the worker) and a
failure there is retried without touching the booking.

Each delivery is a JSON POST::

    {"id": "evt_...", "type": "conferencing.provisioned", "created_at": "...", "data": {...}}

with headers ``Meetbridge-Event``, ``Meetbridge-Delivery`` (the event id, stable across
retries), ``Meetbridge-Timestamp`` (Unix seconds) and ``Meetbridge-Signature:
v1=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>``; :func:`verify_signature` is what a
receiving platform does. Host start links are never part of any event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.models import (
    OutboundMessage,
    WebhookSubscription,
)

if TYPE_CHECKING:
    from meetbridge.services import Services
    from meetbridge.vault import Vault

CHANNEL = "webhook"
EVENTS = (
    "conferencing.provisioned",
    "conferencing.failed",
    "connection.needs_reconnect",
    "connection.revoked",
)
SIGNATURE_TOLERANCE_SECONDS = 300


class WebhookDeliveryError(Exception):
    """The platform did not accept a delivery; the outbox retries it later."""


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    url: str
    description: str
    events: tuple[str, ...]
    active: bool
    created_at: datetime


# -- subscriptions ----------------------------------------------------------------------------


def check_url(url: str, *, production: bool) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("The webhook URL must be an absolute http(s) URL.")
    if production and parts.scheme != "https":
        raise ValueError("The webhook URL must use https.")
    return url.strip()


def create_subscription(
    session: Session,
    vault: Vault,
    *,
    organization_id: int,
    url: str,
    events: list[str] | tuple[str, ...],
    description: str = "",
    created_by: str = "",
    production: bool = False,
) -> tuple[WebhookSubscription, str]:
    """A new subscription; returns it and its signing secret (shown once, stored encrypted)."""
    url = check_url(url, production=production)
    chosen = list(dict.fromkeys(events)) or list(EVENTS)
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise ValueError(f"Unknown event(s) {', '.join(unknown)}; choose from {', '.join(EVENTS)}.")
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        organization_id=organization_id,
        url=url,
        description=description.strip()[:200],
        events=chosen,
        secret_ciphertext=vault.encrypt(secret),
        created_by=created_by,
    )
    session.add(sub)
    session.flush()
    return sub, secret


def list_subscriptions(session: Session, organization_id: int) -> list[SubscriptionRow]:
    subs = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.organization_id == organization_id)
        .order_by(WebhookSubscription.id)
    )
    return [
        SubscriptionRow(s.id, s.url, s.description, tuple(s.events), s.active, s.created_at)
        for s in subs
    ]


def delete_subscription(session: Session, organization_id: int, subscription_id: int) -> None:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None or sub.organization_id != organization_id:
        raise LookupError("No such webhook subscription.")
    session.delete(sub)


# -- queueing events --------------------------------------------------------------------------


def emit(
    session: Session,
    organization_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    booking_id: int | None = None,
) -> int:
    """Queue ``event_type`` for every active subscription of the organisation that wants it;
    returns how many messages were queued."""
    subs = session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.organization_id == organization_id,
            WebhookSubscription.active.is_(True),
        )
    ).all()
    queued = 0
    for sub in subs:
        if event_type not in (sub.events or EVENTS):
            continue
        payload = {
            "subscription_id": sub.id,
            "event": {
                "id": "evt_" + uuid.uuid4().hex,
                "type": event_type,
                "created_at": utcnow().isoformat(),
                "data": data,
            },
        }
        _queue(session, event_type, sub.url, payload, booking_id)
        queued += 1
    return queued


def _queue(
    session: Session, kind: str, url: str, payload: dict[str, Any], booking_id: int | None
) -> None:
    try:  # the outbox with delivery jobs (notifications layer)
        from meetbridge.notifications.outbox import queue_message
    except ImportError:  # an outbox without delivery jobs: the row alone
        session.add(
            OutboundMessage(
                channel=CHANNEL,
                kind=kind,
                recipient=url,
                subject=kind,
                payload=payload,
                booking_id=booking_id,
            )
        )
        return
    queue_message(
        session,
        channel=CHANNEL,
        kind=kind,
        recipient=url,
        subject=kind,
        payload=payload,
        booking_id=booking_id,
    )


# -- delivery ---------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiving platform checks: the signature over the raw body, and freshness."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def _failure(message: str, *, retryable: bool = True) -> Exception:
    """The delivery layer's error type (retryable or not), or ours without that layer."""
    try:
        from meetbridge.notifications.delivery import DeliveryError
    except ImportError:
        return WebhookDeliveryError(message)
    return DeliveryError(message, retryable=retryable)


async def deliver(services: Services, message: Any) -> None:
    """The outbox's ``webhook`` delivery channel (the notifications layer's registry names this
    function): POST one queued event to its subscription's URL.

    ``message`` is the outbox message (``payload`` and ``recipient``). Raises a retryable
    error unless the platform answers 2xx; 410 Gone is final and pauses the subscription. A
    deleted or paused subscription drops the event silently.
    """
    vault = services.vault
    assert vault is not None
    with services.sessions() as session:
        sub = session.get(WebhookSubscription, int(message.payload.get("subscription_id", 0)))
        if sub is None or not sub.active:
            return
        secret = vault.decrypt(sub.secret_ciphertext)
        url, sub_id = sub.url, sub.id
    envelope = message.payload["event"]
    body = json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "meetbridge-webhooks",
        "Meetbridge-Event": str(envelope["type"]),
        "Meetbridge-Delivery": str(envelope["id"]),
        "Meetbridge-Timestamp": str(timestamp),
        "Meetbridge-Signature": sign(secret, timestamp, body),
    }
    try:
        response = await services.http.post(url, content=body, headers=headers, timeout=10.0)
    except Exception as exc:  # network errors of any kind: retry later
        raise _failure(f"{url} could not be reached ({type(exc).__name__}).") from None
    if response.status_code == 410:
        with services.sessions() as session, session.begin():
            gone = session.get(WebhookSubscription, sub_id)
            if gone is not None:
                gone.active = False
        raise _failure(f"{url} answered 410 Gone; the subscription is paused.", retryable=False)
    if not 200 <= response.status_code < 300:
        raise _failure(f"{url} answered HTTP {response.status_code}.")
