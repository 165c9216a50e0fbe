"""What templates see: plain, recipient-specific views built from database rows.

:func:`booking_facts` reads a booking once (its people, place and video details);
:func:`booking_view` turns those facts into what one recipient reads: times in their own
timezone, the people on the other side, and only the links that are theirs to have. Views
carry no secret: the host start link is never read here (hosts open the booking page, which
fetches a fresh one), and the client's manage link is a sealed placeholder that only the
delivery step opens (see :mod:`meetbridge.notifications.outbox`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from meetbridge.db import utcnow
from meetbridge.models import (
    Booking,
    BookingStatus,
    LocationKind,
    Meeting,
    MeetingStatus,
    Organization,
)
from meetbridge.notifications import links
from meetbridge.notifications.catalogue import Translator
from meetbridge.notifications.when import When, format_when

if TYPE_CHECKING:
    from meetbridge.services import Services


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    timezone: str


@dataclass(frozen=True)
class Recipient:
    """Who a message is for and how they read it (``role``: attendee, host, admin, owner)."""

    email: str
    name: str
    role: str
    timezone: str


@dataclass(frozen=True)
class VideoInfo:
    """The meeting as attendees may see it. No host start link, by construction."""

    status: str  # provisioned | pending | none | failed | not_requested
    provider: str  # label, e.g. "Zoom"; "" when unknown
    join_url: str = ""
    passcode: str = ""
    dial_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class BookingFacts:
    uid: str
    slug: str
    title: str
    org_name: str
    start: datetime
    end: datetime
    revision: int
    cancelled: bool
    hosts: tuple[Person, ...]
    attendees: tuple[Person, ...]
    notes: str
    location_kind: str
    location_value: str
    video: VideoInfo

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class BookingView:
    """One booking as one recipient reads it."""

    title: str
    when: When
    duration: str
    where: str
    host_names: str
    guest_names: str
    guests: tuple[Person, ...]
    notes: str
    video: VideoInfo
    provider: str  # label for sentences ("Zoom", or "video" when unknown)
    location_url: str = ""  # a custom meeting link
    booking_url: str = ""  # hosts only
    manage_url: str = ""  # attendees only, sealed placeholder
    book_again_url: str = ""
    previous: When | None = None
    reason: str = ""


def current_time(services: Services) -> datetime:
    """Now, from the services' clock when one is set (tests, simulations)."""
    return services.clock() if services.clock is not None else utcnow()


def provider_label(services: Services, name: str | None) -> str:
    if not name:
        return ""
    try:
        return services.plugins.provider(name).label
    except Exception:  # not installed any more: the stored name still reads fine
        return name.replace("_", " ").title()


def _video_info(services: Services, booking: Booking, meeting: Meeting | None) -> VideoInfo:
    # Imported here: the lifecycle imports the notifications layer to queue its messages.
    from meetbridge.conferencing.lifecycle import wants_video

    mt = booking.meeting_type
    if not wants_video(booking):
        return VideoInfo(status="not_requested", provider="")
    preferred = None
    if mt.location_kind == LocationKind.PROVIDER and mt.location_providers:
        preferred = mt.location_providers[0]
    label = provider_label(services, (meeting.provider if meeting else None) or preferred)
    if meeting is None:
        return VideoInfo(status="pending", provider=label)
    if meeting.status == MeetingStatus.PROVISIONED and meeting.join_url:
        return VideoInfo(
            status="provisioned",
            provider=label,
            join_url=meeting.join_url,
            passcode=meeting.passcode or "",
            dial_in=tuple(meeting.dial_in or ()),
        )
    status = {
        MeetingStatus.NONE: "none",
        MeetingStatus.FAILED: "failed",
    }.get(MeetingStatus(meeting.status), "pending")
    return VideoInfo(status=status, provider=label)


def latest_meeting(session: Session, booking_id: int) -> Meeting | None:
    return session.scalars(
        select(Meeting).where(Meeting.booking_id == booking_id).order_by(Meeting.id.desc()).limit(1)
    ).first()


def booking_facts(
    session: Session, services: Services, booking: Booking, meeting: Meeting | None = None
) -> BookingFacts:
    """Everything messages say about ``booking`` (``meeting``: its latest meeting, if known)."""
    meeting = meeting if meeting is not None else latest_meeting(session, booking.id)
    org = session.get(Organization, booking.organization_id)
    mt = booking.meeting_type
    return BookingFacts(
        uid=booking.uid,
        slug=mt.slug,
        title=mt.name,
        org_name=org.name if org else "",
        start=booking.start_at,
        end=booking.end_at,
        revision=booking.revision,
        cancelled=booking.status == BookingStatus.CANCELLED,
        hosts=tuple(
            Person(h.user.name or h.user.email, h.user.email, h.user.timezone)
            for h in booking.hosts
        ),
        attendees=tuple(Person(a.name, a.email, a.timezone) for a in booking.attendees),
        notes=booking.notes or "",
        location_kind=str(mt.location_kind),
        location_value=mt.location_value or "",
        video=_video_info(services, booking, meeting),
    )


def join_names(names: list[str], t: Translator) -> str:
    names = [n for n in names if n]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + t("format.list_and") + names[-1]


def where_text(facts: BookingFacts, t: Translator, *, attendee: bool = True) -> str:
    kind = facts.location_kind
    if kind in (LocationKind.PHONE, LocationKind.IN_PERSON, LocationKind.CUSTOM_LINK):
        return t(f"location.{kind}", value=facts.location_value)
    if facts.video.status == "not_requested":
        return t("location.to_be_arranged")
    if facts.video.status in ("none", "failed"):
        # The attendee reads what they were promised; the host reads the state of things.
        return t("location.to_be_arranged" if attendee else "location.video_missing")
    return t("location.video", provider=facts.video.provider or t("video.generic"))


def booking_view(
    facts: BookingFacts,
    recipient: Recipient,
    services: Services,
    t: Translator,
    *,
    manage_url: str = "",
    previous: tuple[datetime, datetime] | None = None,
    reason: str = "",
) -> BookingView:
    settings = services.settings
    is_attendee = recipient.role == "attendee"
    return BookingView(
        title=facts.title,
        when=format_when(facts.start, facts.end, recipient.timezone, t),
        duration=t("format.minutes", minutes=facts.duration_minutes),
        where=where_text(facts, t, attendee=is_attendee),
        host_names=join_names([h.name for h in facts.hosts], t),
        guest_names=join_names([a.name for a in facts.attendees], t),
        guests=facts.attendees,
        notes=facts.notes if not is_attendee else "",
        video=facts.video,
        provider=facts.video.provider or t("video.generic"),
        location_url=facts.location_value
        if facts.location_kind == LocationKind.CUSTOM_LINK
        else "",
        booking_url="" if is_attendee else links.booking_page(settings, facts.uid),
        manage_url=manage_url if is_attendee else "",
        book_again_url=links.booking_form(settings, facts.slug) if is_attendee else "",
        previous=format_when(*previous, recipient.timezone, t) if previous else None,
        reason=reason,
    )
