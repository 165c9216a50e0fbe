"""Queueing messages in the outbox (``outbound_messages``), inside the caller's transaction.

Queueing in the same transaction as the change it reports means a message exists exactly when
the change committed; delivery happens later and never blocks or fails a booking.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.models import OutboundMessage, Role, User


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
    message = OutboundMessage(
        channel="email",
        kind=kind,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        booking_id=booking_id,
        payload=payload or {},
    )
    session.add(message)
    return message


def admin_emails(session: Session, organization_id: int) -> list[str]:
    return list(
        session.scalars(
            select(User.email)
            .where(
                User.organization_id == organization_id,
                User.role == Role.ADMIN,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )
