"""What the web application and the REST API keep: API keys, platform webhook subscriptions,
and connect links handed to platforms.

Nothing secret is stored in plaintext: API keys and connect-link tokens only as SHA-256
hashes (they are long random strings, so a slow password hash adds nothing), and webhook
signing secrets encrypted by the vault (they must be read back to sign deliveries).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meetbridge.db import Base, UTCDateTime, utcnow


class ApiKey(Base):
    """A key a platform uses on ``/api/v1``; it acts for one organisation.

    The key reads ``mb_<prefix>_<secret>``: ``prefix`` finds the row, ``key_hash`` (SHA-256 of
    the whole key) proves it. The key itself is shown once, when an admin creates it.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("prefix", name="uq_api_keys_prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", name="fk_api_keys_organization_id"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(128))
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_api_keys_created_by_user_id"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebhookSubscription(Base):
    """Where an organisation wants platform events POSTed, signed with its own secret."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", name="fk_webhook_subscriptions_organization_id"),
        index=True,
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConnectLink(Base):
    """A single-use link a platform sends one of its users to, to connect a provider.

    After the provider's consent the person is sent back to ``return_url`` with the outcome.
    """

    __tablename__ = "connect_links"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_connect_links_token_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", name="fk_connect_links_organization_id")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_connect_links_user_id"))
    provider: Mapped[str] = mapped_column(String(64))
    account_level: Mapped[bool] = mapped_column(default=False)
    return_url: Mapped[str] = mapped_column(String(2000))
    token_hash: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
