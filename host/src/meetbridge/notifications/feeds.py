"""Personal calendar feeds: ``/feeds/{token}.ics`` lists the bookings a person hosts.

The token is the only credential (calendar applications cannot sign in), so it is long and
random, stored only as a SHA-256 hash, shown once when made, and replaced by
:func:`rotate_feed_token` (the old URL stops working at once). The web layer mounts the URL
and calls :func:`feed_for_token`; ``None`` means "answer 404".

The feed holds each upcoming (and recent) confirmed booking as the same event as the
invitations (same UID), so subscribing next to an emailed invitation does not duplicate it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meetbridge.db import utcnow
from meetbridge.models import (
    Booking,
    BookingHost,
    BookingStatus,
    CalendarFeedToken,
    Organization,
    User,
)
from meetbridge.notifications import ics, links
from meetbridge.notifications.catalogue import Translator
from meetbridge.notifications.views import booking_facts, current_time

if TYPE_CHECKING:
    from meetbridge.services import Services

PAST_DAYS = 30  # how far back the feed reaches (recent history stays visible)
MAX_EVENTS = 2000


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def rotate_feed_token(session: Session, user_id: int) -> str:
    """Make (or replace) the user's feed token; returns it (the only time it is seen)."""
    if session.get(User, user_id) is None:
        raise LookupError(f"No user {user_id}.")
    token = secrets.token_urlsafe(32)
    row = session.scalars(
        select(CalendarFeedToken).where(CalendarFeedToken.user_id == user_id)
    ).first()
    if row is None:
        row = CalendarFeedToken(user_id=user_id)
        session.add(row)
    row.token_hash = _hash(token)
    row.created_at = utcnow()
    row.last_used_at = None
    session.flush()
    return token


def revoke_feed_token(session: Session, user_id: int) -> bool:
    """Turn the user's feed off; True if there was one."""
    row = session.scalars(
        select(CalendarFeedToken).where(CalendarFeedToken.user_id == user_id)
    ).first()
    if row is None:
        return False
    session.delete(row)
    return True


def has_feed(session: Session, user_id: int) -> bool:
    return (
        session.scalars(
            select(CalendarFeedToken.id).where(CalendarFeedToken.user_id == user_id)
        ).first()
        is not None
    )


def feed_url(services: Services, token: str) -> str:
    return links.calendar_feed(services.settings, token)


def feed_for_token(services: Services, token: str, *, now: datetime | None = None) -> bytes | None:
    """The ICS feed for ``token``, or ``None`` when no feed has that token."""
    if not token or len(token) > 200:
        return None
    with services.sessions() as session, session.begin():
        row = session.scalars(
            select(CalendarFeedToken).where(CalendarFeedToken.token_hash == _hash(token))
        ).first()
        if row is None:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        row.last_used_at = utcnow()
        return _feed(session, services, user, now or current_time(services))


def _feed(session: Session, services: Services, user: User, now: datetime) -> bytes:
    t = Translator(services.settings.email.locale)
    domain = links.calendar_domain(services.settings)
    bookings = session.scalars(
        select(Booking)
        .join(BookingHost, BookingHost.booking_id == Booking.id)
        .where(
            BookingHost.user_id == user.id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.end_at > now - timedelta(days=PAST_DAYS),
        )
        .options(
            selectinload(Booking.meeting_type),
            selectinload(Booking.hosts).selectinload(BookingHost.user),
            selectinload(Booking.attendees),
        )
        .order_by(Booking.start_at)
        .limit(MAX_EVENTS)
    )
    events = []
    for booking in bookings:
        facts = booking_facts(session, services, booking)
        guests = [f"{t('label.guest')}: {a.name} <{a.email}>" for a in facts.attendees]
        notes = [f"{t('label.notes')}: {facts.notes}"] if facts.notes else []
        page = f"{t('label.booking')}: {links.booking_page(services.settings, facts.uid)}"
        events.append(
            ics.booking_event(
                facts,
                domain=domain,
                t=t,
                extra_description=["", *guests, *notes, page],
                attendees_as_participants=False,
            )
        )
    org = session.get(Organization, user.organization_id)
    name = f"{user.name or user.email} · {org.name}" if org else (user.name or user.email)
    return ics.feed(events, name=f"meetbridge: {name}")
