"""Notification records that are not messages themselves: per-user calendar feed tokens.

Messages live in ``outbound_messages`` (:class:`~meetbridge.models.operations.OutboundMessage`);
this module holds what the notifications layer needs beside them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meetbridge.db import Base, UTCDateTime, utcnow
from meetbridge.models.organizations import User


class CalendarFeedToken(Base):
    """The secret of a person's calendar feed URL (``/feeds/{token}.ics``), stored hashed.

    One row per user; rotating the token replaces the hash, so the old URL stops working at
    once. The token itself is shown once, when it is made.
    """

    __tablename__ = "calendar_feed_tokens"
    __table_args__ = (
        UniqueConstraint("user_id", name="uq_calendar_feed_tokens_user_id"),
        UniqueConstraint("token_hash", name="uq_calendar_feed_tokens_token_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_calendar_feed_tokens_user_id_users")
    )
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    user: Mapped[User] = relationship()
