"""Meeting types, their hosts, weekly availability, and bookings."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from meetbridge.db import Base, UTCDateTime, utcnow
from meetbridge.models.enums import Assignment, BookingStatus, LocationKind, VideoMode
from meetbridge.models.organizations import User
from meetbridge.settings import validate_timezone


class MeetingType(Base):
    __tablename__ = "meeting_types"
    __table_args__ = (UniqueConstraint("organization_id", "slug", name="uq_meeting_types_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(default=30)
    location_kind: Mapped[LocationKind] = mapped_column(
        String(32), default=LocationKind.HOST_DEFAULT_VIDEO
    )
    # For PROVIDER: the preferred provider names, in order (e.g. ["zoom"]).
    location_providers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # For PHONE / IN_PERSON / CUSTOM_LINK: the number, address or link.
    location_value: Mapped[str] = mapped_column(String(1000), default="")
    video_mode: Mapped[VideoMode] = mapped_column(String(32), default=VideoMode.ALWAYS)
    assignment: Mapped[Assignment] = mapped_column(String(32), default=Assignment.ONE_PERSON)
    # Per-type settings passed to the provider (e.g. {"waiting_room": false}).
    meeting_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    buffer_minutes: Mapped[int] = mapped_column(default=0)
    min_notice_minutes: Mapped[int] = mapped_column(default=0)
    slot_interval_minutes: Mapped[int | None] = mapped_column(default=None)
    skip_hosts_with_broken_video: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    hosts: Mapped[list[MeetingTypeHost]] = relationship(
        back_populates="meeting_type",
        order_by="MeetingTypeHost.position",
        cascade="all, delete-orphan",
    )

    @validates("duration_minutes")
    def _check_duration(self, _key: str, value: int) -> int:
        if not 1 <= value <= 24 * 60:
            raise ValueError("A meeting type lasts between 1 minute and 24 hours.")
        return value


class MeetingTypeHost(Base):
    __tablename__ = "meeting_type_hosts"
    __table_args__ = (UniqueConstraint("meeting_type_id", "user_id", name="uq_type_host"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_type_id: Mapped[int] = mapped_column(ForeignKey("meeting_types.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    position: Mapped[int] = mapped_column(default=0)
    priority: Mapped[int] = mapped_column(default=0)  # round-robin: higher goes first on ties

    meeting_type: Mapped[MeetingType] = relationship(back_populates="hosts")
    user: Mapped[User] = relationship()


class AvailabilityWindow(Base):
    """A weekly window in the host's own timezone (weekday 0 = Monday)."""

    __tablename__ = "availability_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    weekday: Mapped[int] = mapped_column()
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)

    @validates("weekday")
    def _check_weekday(self, _key: str, value: int) -> int:
        if not 0 <= value <= 6:
            raise ValueError("weekday is 0 (Monday) to 6 (Sunday).")
        return value


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_type_start", "meeting_type_id", "start_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)  # public id, also the ICS UID
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    meeting_type_id: Mapped[int] = mapped_column(ForeignKey("meeting_types.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    booker_timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[BookingStatus] = mapped_column(String(32), default=BookingStatus.CONFIRMED)
    revision: Mapped[int] = mapped_column(default=0)  # bumped on every change (ICS SEQUENCE)
    video: Mapped[bool] = mapped_column(default=True)
    manage_token_hash: Mapped[str] = mapped_column(String(128), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    meeting_type: Mapped[MeetingType] = relationship()
    hosts: Mapped[list[BookingHost]] = relationship(
        back_populates="booking", order_by="BookingHost.position", cascade="all, delete-orphan"
    )
    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="booking", cascade="all, delete-orphan"
    )

    @validates("booker_timezone")
    def _check_timezone(self, _key: str, value: str) -> str:
        return validate_timezone(value)


class BookingHost(Base):
    __tablename__ = "booking_hosts"
    __table_args__ = (Index("ix_booking_hosts_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    position: Mapped[int] = mapped_column(default=0)

    booking: Mapped[Booking] = relationship(back_populates="hosts")
    user: Mapped[User] = relationship()


class Attendee(Base):
    __tablename__ = "attendees"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64))

    booking: Mapped[Booking] = relationship(back_populates="attendees")
