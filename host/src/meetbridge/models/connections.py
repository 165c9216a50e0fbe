"""Connections: a person's (or the organisation's) grant at a conferencing provider."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meetbridge.db import Base, UTCDateTime, utcnow
from meetbridge.models.enums import ConnectionStatus
from meetbridge.models.organizations import Organization, User


class Connection(Base):
    """A grant at a provider.

    ``owner_user_id`` is the member it belongs to; it is NULL for an account-level connection
    made by an admin for the whole organisation. Tokens live only in ``token_ciphertext``
    (Fernet, see :mod:`meetbridge.vault`) and are wiped on disconnect; the row stays so that
    meetings made with it keep their history.
    """

    __tablename__ = "connections"
    __table_args__ = (
        Index("ix_connections_owner_provider", "organization_id", "owner_user_id", "provider"),
        Index("ix_connections_external", "provider", "external_account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    provider: Mapped[str] = mapped_column(String(64))
    external_account_id: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    account_type: Mapped[str] = mapped_column(String(64), default="")
    provider_org_id: Mapped[str] = mapped_column(String(255), default="")
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[ConnectionStatus] = mapped_column(String(32), default=ConnectionStatus.ACTIVE)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    refresh_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    warnings: Mapped[list[dict]] = mapped_column(JSON, default=list)

    organization: Mapped[Organization] = relationship()
    owner: Mapped[User | None] = relationship()

    @property
    def is_account_level(self) -> bool:
        return self.owner_user_id is None

    @property
    def is_active(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE and self.token_ciphertext is not None
