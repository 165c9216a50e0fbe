"""Forgetting a person: their tokens, their personal data, a minimal audit trail.

``forget_person`` serves both a member leaving (their account, connections and tokens) and a
client asking to be erased (their name and email on bookings and messages). Bookings stay,
because hosts' calendars and meetings depend on them, but no longer say who booked. The audit
trail keeps that something was forgotten and when, not who.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.db import utcnow
from meetbridge.models import (
    Attendee,
    AuditEvent,
    Connection,
    ConnectionStatus,
    OutboundMessage,
    User,
)

if TYPE_CHECKING:
    from meetbridge.services import Services

log = logging.getLogger("meetbridge.privacy")


@dataclass(frozen=True)
class ForgetReport:
    user_found: bool
    connections_revoked: int
    attendee_records: int
    messages_scrubbed: int
    audit_events_scrubbed: int


def _pseudonym(email: str) -> str:
    # Stable for the same address so repeated requests find nothing new, but not reversible.
    return "forgotten-" + hashlib.sha256(email.encode()).hexdigest()[:12]


async def forget_person(services: Services, email: str, *, actor: str) -> ForgetReport:
    email = email.strip().lower()
    alias = _pseudonym(email)
    connections = ConnectionService(services)
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.email == email)).first()
        user_id = user.id if user else None
        conn_ids = (
            list(session.scalars(select(Connection.id).where(Connection.owner_user_id == user_id)))
            if user_id
            else []
        )
    revoked = 0
    for conn_id in conn_ids:
        # Deletes tokens first, then revokes at the provider where it can.
        await connections.disconnect(conn_id, actor="privacy request")
        revoked += 1
    with services.sessions() as session, session.begin():
        if user_id is not None:
            session.execute(
                update(Connection)
                .where(Connection.owner_user_id == user_id)
                .values(
                    external_account_id="",
                    email="",
                    provider_org_id="",
                    scopes=[],
                    token_ciphertext=None,
                    status=ConnectionStatus.REVOKED,
                    last_error=None,
                )
            )
            session.execute(
                update(User)
                .where(User.id == user_id)
                .values(email=f"{alias}@invalid", name="", password_hash=None, active=False)
            )
        attendees = session.execute(
            update(Attendee)
            .where(Attendee.email == email)
            .values(email=f"{alias}@invalid", name="(forgotten)")
        ).rowcount
        messages = session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.recipient == email)
            .values(
                recipient=f"{alias}@invalid", subject="", body_text="", body_html="", payload={}
            )
        ).rowcount
        audits = session.execute(
            update(AuditEvent).where(AuditEvent.actor == email).values(actor=alias)
        ).rowcount
        session.add(
            AuditEvent(
                actor=actor,
                action="person.forgotten",
                subject_type="person",
                subject_id=alias,
                data={"at": utcnow().isoformat()},
            )
        )
    log.info("forgot a person (%s): %s connections, %s attendee records", alias, revoked, attendees)
    return ForgetReport(user_id is not None, revoked, attendees or 0, messages or 0, audits or 0)
