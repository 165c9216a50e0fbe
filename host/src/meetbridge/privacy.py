"""Forgetting a person: their grants, their personal data, a minimal audit trail.

``forget_person`` serves both a member leaving (their account, connections and tokens) and a
client asking to be erased (their name and email on bookings and messages). In order:

1. Each of the person's connections is disconnected the normal way: the tokens are deleted
   here at once, then revoked at the provider where it has an endpoint (best effort: a
   provider that cannot be reached does not stop the erasure; the outcome is reported and
   recorded, so an operator can revoke by hand).
2. Their personal data is removed or pseudonymised: the account (email replaced by a
   pseudonym, name and password cleared, deactivated, calendar feed token deleted), the
   connections' account details, attendee records and the notes of their bookings, every
   message to them (emptied) and every message about them (their email and name replaced),
   audit events they acted in or that name them.
3. One audit event says that someone was forgotten, when, by whom and what was removed, naming
   them only by the pseudonym (a keyed hash: not reversible without the secret key).

Bookings and meetings stay, because hosts' calendars depend on them, but no longer say who
booked. Running it again for the same address finds nothing and says it was already done.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, delete, func, or_, select, update

from meetbridge.conferencing.connections import ConnectionService
from meetbridge.db import utcnow
from meetbridge.models import (
    Attendee,
    AuditEvent,
    Booking,
    BookingHost,
    Connection,
    ConnectionStatus,
    OutboundMessage,
    User,
)
from meetbridge.models.notifications import CalendarFeedToken

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from meetbridge.services import Services

log = logging.getLogger("meetbridge.privacy")
FORGOTTEN_ACTION = "person.forgotten"
FORGOTTEN_NAME = "(forgotten)"


@dataclass(frozen=True)
class ForgetReport:
    """What ``forget_person`` did (counts only: nothing in it identifies the person)."""

    pseudonym: str
    user_found: bool
    connections_revoked: int  # connections whose tokens were deleted here
    revoked_at_provider: int = 0  # of those, revocations the provider confirmed
    revocation_unconfirmed: list[str] = field(default_factory=list)  # providers, to check
    attendee_records: int = 0
    bookings_scrubbed: int = 0  # notes cleared on their bookings
    messages_scrubbed: int = 0  # messages to them (emptied) or about them (name replaced)
    audit_events_scrubbed: int = 0
    already_forgotten: bool = False  # nothing left: an earlier request removed it all

    @property
    def nothing_to_do(self) -> bool:
        return not (
            self.user_found
            or self.connections_revoked
            or self.attendee_records
            or self.messages_scrubbed
            or self.audit_events_scrubbed
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"nothing_to_do": self.nothing_to_do}


def pseudonyms(services: Services, email: str) -> list[str]:
    """The person's pseudonym under each secret key (newest first), then the unkeyed one
    earlier versions used: stable for the same address, not reversible without the key."""
    from meetbridge.vault import load_keys

    email = email.strip().lower()
    keys = load_keys(services.settings)
    keyed = [
        "forgotten-" + hmac.new(k.encode(), email.encode(), hashlib.sha256).hexdigest()[:16]
        for k in keys
    ]
    return [*keyed, "forgotten-" + hashlib.sha256(email.encode()).hexdigest()[:12]]


async def forget_person(services: Services, email: str, *, actor: str) -> ForgetReport:
    """Revoke the person's grants and remove or pseudonymise their personal data."""
    email = email.strip().lower()
    aliases = pseudonyms(services, email)
    alias = aliases[0]
    gone = f"{alias}@invalid"
    connections = ConnectionService(services)
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.email == email)).first()
        user_id = user.id if user else None
        user_name = user.name if user else ""
        org_id = user.organization_id if user else None
        with_tokens = (
            list(
                session.execute(
                    select(Connection.id, Connection.provider).where(
                        Connection.owner_user_id == user_id,
                        Connection.token_ciphertext.is_not(None),
                    )
                )
            )
            if user_id
            else []
        )
    confirmed, unconfirmed = 0, []
    for conn_id, provider in with_tokens:
        # Deletes the tokens first, then revokes at the provider where it can (best effort).
        if await connections.disconnect(conn_id, actor="privacy request"):
            confirmed += 1
        else:
            unconfirmed.append(provider)
    with services.sessions() as session, session.begin():
        names = {user_name} if user_name else set()
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
                    token_expires_at=None,
                    status=ConnectionStatus.REVOKED,
                    last_error=None,
                    warnings=[],
                )
            )
            session.execute(
                update(User)
                .where(User.id == user_id)
                .values(email=gone, name="", password_hash=None, active=False)
            )
            session.execute(delete(CalendarFeedToken).where(CalendarFeedToken.user_id == user_id))
        attended = list(
            session.execute(
                select(Attendee.booking_id, Attendee.name).where(
                    func.lower(Attendee.email) == email
                )
            )
        )
        booking_ids = {b for b, _ in attended}
        names |= {n for _, n in attended if n and len(n.strip()) > 1}
        org_id = org_id or session.scalar(
            select(Booking.organization_id).where(Booking.id.in_(booking_ids or {0}))
        )
        attendees = session.execute(
            update(Attendee)
            .where(func.lower(Attendee.email) == email)
            .values(email=gone, name=FORGOTTEN_NAME)
        ).rowcount
        bookings = session.execute(
            update(Booking).where(Booking.id.in_(booking_ids or {0})).values(notes="")
        ).rowcount
        hosted = (
            set(
                session.scalars(
                    select(BookingHost.booking_id).where(BookingHost.user_id == user_id)
                )
            )
            if user_id
            else set()
        )
        messages = _scrub_messages(session, email, gone, names, booking_ids | hosted)
        audits = _scrub_audit(session, email, alias, names)
        report = ForgetReport(
            pseudonym=alias,
            user_found=user_id is not None,
            connections_revoked=len(with_tokens),
            revoked_at_provider=confirmed,
            revocation_unconfirmed=unconfirmed,
            attendee_records=attendees or 0,
            bookings_scrubbed=(bookings or 0) if booking_ids else 0,
            messages_scrubbed=messages,
            audit_events_scrubbed=audits,
        )
        if report.nothing_to_do:
            done = session.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.action == FORGOTTEN_ACTION, AuditEvent.subject_id.in_(aliases)
                )
            )
            return ForgetReport(alias, False, 0, already_forgotten=done is not None)
        session.add(
            AuditEvent(
                organization_id=org_id,
                actor=actor,
                action=FORGOTTEN_ACTION,
                subject_type="person",
                subject_id=alias,
                data={
                    "at": utcnow().isoformat(),
                    "account": report.user_found,
                    "connections_revoked": report.connections_revoked,
                    "revoked_at_provider": report.revoked_at_provider,
                    "revocation_unconfirmed": report.revocation_unconfirmed,
                    "attendee_records": report.attendee_records,
                    "messages_scrubbed": report.messages_scrubbed,
                },
            )
        )
    log.info(
        "forgot a person (%s): %s connections (%s revoked at the provider), %s attendee records,"
        " %s messages",
        alias,
        report.connections_revoked,
        report.revoked_at_provider,
        report.attendee_records,
        report.messages_scrubbed,
    )
    if unconfirmed:
        log.warning(
            "forgetting %s: the tokens are deleted, but %s did not confirm the revocation;"
            " revoke meetbridge's access there by hand if it matters",
            alias,
            ", ".join(unconfirmed),
        )
    return report


def _mentions(column: Any, email: str) -> Any:
    return func.lower(cast(column, String)).contains(email, autoescape=True)


def _replace(text: str, email: str, gone: str, names: set[str]) -> str:
    out = text.replace(email, gone)
    lowered = out.lower()
    if email in lowered:  # the address written with capitals somewhere
        start = lowered.find(email)
        while start != -1:
            out = out[:start] + gone + out[start + len(email) :]
            lowered = out.lower()
            start = lowered.find(email, start + len(gone))
    for name in sorted(names, key=len, reverse=True):
        for form in {name, html.escape(name)}:
            # Whole words only: forgetting "Ann" must not change "Annual".
            out = re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", FORGOTTEN_NAME, out)
    return out


def _scrub_messages(
    session: Session, email: str, gone: str, names: set[str], booking_ids: set[int]
) -> int:
    """Messages to the person are emptied; messages about them lose their email and name."""
    to_them = (
        session.execute(
            update(OutboundMessage)
            .where(func.lower(OutboundMessage.recipient) == email)
            .values(recipient=gone, subject="", body_text="", body_html="", payload={})
        ).rowcount
        or 0
    )
    about = session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.recipient != gone,
            or_(
                OutboundMessage.booking_id.in_(booking_ids or {0}),
                _mentions(OutboundMessage.body_text, email),
                _mentions(OutboundMessage.payload, email),
            ),
        )
    )
    changed = 0
    for message in about:
        before = (message.subject, message.body_text, message.body_html, message.payload)
        message.subject = _replace(message.subject, email, gone, names)
        message.body_text = _replace(message.body_text, email, gone, names)
        message.body_html = _replace(message.body_html, email, gone, names)
        payload = _replace(json.dumps(message.payload or {}), email, gone, names)
        message.payload = json.loads(payload)
        if (message.subject, message.body_text, message.body_html, message.payload) != before:
            changed += 1
    return to_them + changed


def _scrub_audit(session: Session, email: str, alias: str, names: set[str]) -> int:
    events = session.scalars(
        select(AuditEvent).where(
            or_(func.lower(AuditEvent.actor) == email, _mentions(AuditEvent.data, email))
        )
    )
    changed = 0
    for event in events:
        if event.actor.lower() == email:
            event.actor = alias
        event.data = json.loads(_replace(json.dumps(event.data or {}), email, alias, names))
        changed += 1
    return changed
