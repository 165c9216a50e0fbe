"""notifications: per-user calendar feed tokens

Revision ID: 0003_notifications
Revises: 0002
Create Date: 2026-11-21 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetbridge.db

revision: str = "0003_notifications"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", meetbridge.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", meetbridge.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_calendar_feed_tokens_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_feed_tokens"),
        sa.UniqueConstraint("user_id", name="uq_calendar_feed_tokens_user_id"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_feed_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("calendar_feed_tokens")
