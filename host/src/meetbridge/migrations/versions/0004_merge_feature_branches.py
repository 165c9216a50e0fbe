"""merge the notifications, performance and web branches

Revision ID: 0004
Revises: 0003_notifications, 0003_perf, 0003_web
Create Date: 2026-11-21 20:45:00
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: tuple[str, ...] = ("0003_notifications", "0003_perf", "0003_web")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to do: this revision only joins the branches into one head."""


def downgrade() -> None:
    """Nothing to do."""
