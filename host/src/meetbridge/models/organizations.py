"""Organisations and their people."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from meetbridge.db import Base, UTCDateTime, utcnow
from meetbridge.models.enums import Role
from meetbridge.settings import DEFAULT_FALLBACK_ORDER, DEFAULT_TIMEZONE, validate_timezone


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    # Provider names tried in order after a meeting type's own preference.
    fallback_order: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_FALLBACK_ORDER)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organization")

    @validates("timezone")
    def _check_timezone(self, _key: str, value: str) -> str:
        return validate_timezone(value)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email", name="uq_users_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(String(20), default=Role.MEMBER)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="users")

    @validates("timezone")
    def _check_timezone(self, _key: str, value: str) -> str:
        return validate_timezone(value)

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        value = value.strip().lower()
        if "@" not in value or value.startswith("@") or value.endswith("@"):
            raise ValueError(f"{value!r} is not an email address.")
        return value

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN
