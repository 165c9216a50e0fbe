"""perf: indexes for busy-time queries and booking hosts

Revision ID: 0003_perf
Revises: 0002
Create Date: 2026-11-21 20:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_perf"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_bookings_start", "bookings", ["start_at"], unique=False)
    op.create_index("ix_booking_hosts_booking", "booking_hosts", ["booking_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_booking_hosts_booking", table_name="booking_hosts")
    op.drop_index("ix_bookings_start", table_name="bookings")
