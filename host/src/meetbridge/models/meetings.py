"""Meetings made at providers for bookings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meetbridge.db import Base, UTCDateTime, utcnow
from meetbridge.models.connections import Connection
from meetbridge.models.enums import MeetingStatus
from meetbridge.models.scheduling import Booking


class Meeting(Base):
    """The conferencing side of a booking.

    ``connection_id`` is the connection that created it: updates and deletes use that one,
    never whoever is connected now. ``resolution`` keeps the decision trail (which providers
    and hosts were tried and why) for ``meetbridge bookings explain``.
    """

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_provider_external", "provider", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id"), default=None)
    # The member the meeting is for (with an account-level connection, made on their behalf).
    host_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    host_user_external: Mapped[str | None] = mapped_column(String(320), default=None)
    # Stable across retries of this meeting's creation, new for each new meeting of a booking.
    idempotency_key: Mapped[str] = mapped_column(String(255), default="")
    # The booking revision this meeting reflects; behind the booking means "update me".
    synced_revision: Mapped[int] = mapped_column(default=0)
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    join_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    start_url_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    passcode: Mapped[str] = mapped_column(String(64), default="")
    dial_in: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[MeetingStatus] = mapped_column(String(32), default=MeetingStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    resolution: Mapped[list[dict]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    booking: Mapped[Booking] = relationship()
    connection: Mapped[Connection | None] = relationship()
