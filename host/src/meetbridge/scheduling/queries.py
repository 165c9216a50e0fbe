"""Read-side queries the web pages and the REST API need: listings, lookups, permissions.

Changes go through :class:`~meetbridge.scheduling.bookings.BookingService` and
:func:`~meetbridge.scheduling.meeting_types.save_meeting_type`; this module only reads (and
answers "may this person see that?").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meetbridge.models import (
    Booking,
    BookingHost,
    BookingStatus,
    Meeting,
    MeetingType,
    MeetingTypeHost,
    User,
)
from meetbridge.scheduling.availability import slots_for, windows_of
from meetbridge.scheduling.meeting_types import MeetingTypeSpec
from meetbridge.scheduling.slots import Slot

if TYPE_CHECKING:
    from meetbridge.services import Services

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class NotFound(LookupError):
    """Nothing of that id that this person may see (the two are not told apart)."""


@dataclass(frozen=True)
class BookingRow:
    id: int
    uid: str
    meeting_type: str
    start: datetime
    end: datetime
    status: str
    hosts: tuple[str, ...]
    attendees: tuple[str, ...]
    conferencing: str
    provider: str | None


@dataclass(frozen=True)
class MeetingTypeRow:
    id: int
    slug: str
    name: str
    duration_minutes: int
    location: str  # provider names, or the location kind
    assignment: str
    video_mode: str
    hosts: tuple[str, ...]
    active: bool


def meeting_type_rows(
    session: Session, organization_id: int, *, host_user_id: int | None = None
) -> list[MeetingTypeRow]:
    """Meeting types of the organisation (only those hosted by ``host_user_id`` if given)."""
    stmt = (
        select(MeetingType)
        .where(MeetingType.organization_id == organization_id)
        .options(selectinload(MeetingType.hosts).selectinload(MeetingTypeHost.user))
        .order_by(MeetingType.name)
    )
    rows = []
    for mt in session.scalars(stmt):
        if host_user_id is not None and host_user_id not in {h.user_id for h in mt.hosts}:
            continue
        rows.append(
            MeetingTypeRow(
                id=mt.id,
                slug=mt.slug,
                name=mt.name,
                duration_minutes=mt.duration_minutes,
                location=",".join(mt.location_providers or []) or str(mt.location_kind),
                assignment=str(mt.assignment),
                video_mode=str(mt.video_mode),
                hosts=tuple(h.user.email for h in mt.hosts),
                active=mt.active,
            )
        )
    return rows


def editable_meeting_type(session: Session, meeting_type_id: int, user: User) -> MeetingType:
    """A meeting type ``user`` may edit: admins any of their organisation's, members the ones
    they host."""
    mt = session.scalars(
        select(MeetingType)
        .where(MeetingType.id == meeting_type_id)
        .options(selectinload(MeetingType.hosts).selectinload(MeetingTypeHost.user))
    ).first()
    if mt is None or mt.organization_id != user.organization_id:
        raise NotFound("No such meeting type.")
    if not user.is_admin and user.id not in {h.user_id for h in mt.hosts}:
        raise NotFound("No such meeting type.")
    return mt


def spec_of(mt: MeetingType) -> MeetingTypeSpec:
    """The spec that would recreate ``mt`` (to prefill an edit form)."""
    location = ",".join(mt.location_providers or []) if mt.location_providers else mt.location_kind
    return MeetingTypeSpec(
        name=mt.name,
        duration_minutes=mt.duration_minutes,
        hosts=[h.user.email for h in mt.hosts],
        slug=mt.slug,
        description=mt.description,
        location=str(location),
        location_value=mt.location_value,
        video_mode=mt.video_mode,
        assignment=mt.assignment,
        meeting_settings=dict(mt.meeting_settings or {}),
        buffer_minutes=mt.buffer_minutes,
        min_notice_minutes=mt.min_notice_minutes,
        slot_interval_minutes=mt.slot_interval_minutes,
        skip_hosts_with_broken_video=mt.skip_hosts_with_broken_video,
    )


def booking_rows(
    session: Session,
    organization_id: int,
    *,
    host_user_id: int | None = None,
    upcoming_after: datetime | None = None,
    limit: int = 200,
) -> list[BookingRow]:
    """Bookings of the organisation (of one host if given); upcoming ones soonest first,
    else newest first."""
    stmt = (
        select(Booking)
        .where(Booking.organization_id == organization_id)
        .options(
            selectinload(Booking.meeting_type),
            selectinload(Booking.hosts).selectinload(BookingHost.user),
            selectinload(Booking.attendees),
        )
    )
    if host_user_id is not None:
        stmt = stmt.where(
            Booking.id.in_(
                select(BookingHost.booking_id).where(BookingHost.user_id == host_user_id)
            )
        )
    if upcoming_after is not None:
        stmt = stmt.where(Booking.end_at >= upcoming_after).order_by(Booking.start_at)
    else:
        stmt = stmt.order_by(Booking.start_at.desc())
    bookings = list(session.scalars(stmt.limit(limit)))
    latest = _latest_meetings(session, [b.id for b in bookings])
    return [
        BookingRow(
            id=b.id,
            uid=b.uid,
            meeting_type=b.meeting_type.name,
            start=b.start_at,
            end=b.end_at,
            status=str(b.status),
            hosts=tuple(h.user.email for h in b.hosts),
            attendees=tuple(f"{a.name} <{a.email}>" for a in b.attendees),
            conferencing=str(latest[b.id].status) if b.id in latest else "none",
            provider=latest[b.id].provider if b.id in latest else None,
        )
        for b in bookings
    ]


def _latest_meetings(session: Session, booking_ids: list[int]) -> dict[int, Meeting]:
    latest: dict[int, Meeting] = {}
    if not booking_ids:
        return latest
    for meeting in session.scalars(
        select(Meeting).where(Meeting.booking_id.in_(booking_ids)).order_by(Meeting.id)
    ):
        latest[meeting.booking_id] = meeting
    return latest


def visible_booking(session: Session, booking_id: int, user: User) -> Booking:
    """A booking ``user`` may see: one they host, or any of their organisation's for admins."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.organization_id != user.organization_id:
        raise NotFound("No such booking.")
    if not user.is_admin and not session.scalar(
        select(BookingHost.id).where(
            BookingHost.booking_id == booking_id, BookingHost.user_id == user.id
        )
    ):
        raise NotFound("No such booking.")
    return booking


def is_host(session: Session, booking_id: int, user_id: int) -> bool:
    return bool(
        session.scalar(
            select(BookingHost.id).where(
                BookingHost.booking_id == booking_id, BookingHost.user_id == user_id
            )
        )
    )


def booking_id_for_uid(session: Session, uid: str, organization_id: int) -> int:
    """The booking with public id ``uid`` in this organisation (API look-ups)."""
    booking_id = session.scalar(
        select(Booking.id).where(Booking.uid == uid, Booking.organization_id == organization_id)
    )
    if booking_id is None:
        raise NotFound(f"No booking {uid!r}.")
    return booking_id


def booking_attendee_timezone(session: Session, booking_id: int) -> str:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    return booking.booker_timezone


def reschedule_slots(
    services: Services, booking_id: int, start: datetime, end: datetime, *, now: datetime
) -> list[Slot]:
    """Slots a confirmed booking could move to; its own current time does not count as busy."""
    with services.sessions() as session:
        booking = session.get(Booking, booking_id)
        if booking is None or booking.status != BookingStatus.CONFIRMED:
            return []
        mt = session.scalars(
            select(MeetingType)
            .where(MeetingType.id == booking.meeting_type_id)
            .options(selectinload(MeetingType.hosts))
        ).one()
        return slots_for(session, mt, start, end, now=now, exclude_booking_id=booking_id)


def availability_spec(session: Session, user_id: int) -> str:
    """A person's weekly windows written back as ``"mon 09:00-17:00; tue ..."``."""
    windows = sorted(windows_of(session, user_id), key=lambda w: (w.weekday, w.start))
    return "; ".join(f"{WEEKDAY_NAMES[w.weekday]} {w.start:%H:%M}-{w.end:%H:%M}" for w in windows)


@dataclass(frozen=True)
class BookingSummary:
    """What a client's manage page shows about their booking (nothing of the host side)."""

    id: int
    uid: str
    slug: str
    title: str
    description: str
    start: datetime
    end: datetime
    status: str
    timezone: str  # the booker's
    attendee_name: str
    attendee_email: str
    host_names: tuple[str, ...]
    location_kind: str
    location_value: str


def booking_summary(session: Session, booking_id: int) -> BookingSummary:
    booking = session.scalars(
        select(Booking)
        .where(Booking.id == booking_id)
        .options(
            selectinload(Booking.meeting_type),
            selectinload(Booking.hosts).selectinload(BookingHost.user),
            selectinload(Booking.attendees),
        )
    ).first()
    if booking is None:
        raise NotFound("No such booking.")
    mt = booking.meeting_type
    first = booking.attendees[0] if booking.attendees else None
    return BookingSummary(
        id=booking.id,
        uid=booking.uid,
        slug=mt.slug,
        title=mt.name,
        description=mt.description,
        start=booking.start_at,
        end=booking.end_at,
        status=str(booking.status),
        timezone=booking.booker_timezone,
        attendee_name=first.name if first else "",
        attendee_email=first.email if first else "",
        host_names=tuple(h.user.name or h.user.email for h in booking.hosts),
        location_kind=str(mt.location_kind),
        location_value=mt.location_value,
    )


def public_meeting_type(session: Session, slug: str) -> MeetingType:
    """An active meeting type by its public link (first match: slugs are per organisation,
    and single-organisation installs are the norm)."""
    mt = session.scalars(
        select(MeetingType)
        .where(MeetingType.slug == slug, MeetingType.active.is_(True))
        .options(selectinload(MeetingType.hosts).selectinload(MeetingTypeHost.user))
        .order_by(MeetingType.id)
    ).first()
    if mt is None:
        raise NotFound(f"No meeting type {slug!r}.")
    return mt
