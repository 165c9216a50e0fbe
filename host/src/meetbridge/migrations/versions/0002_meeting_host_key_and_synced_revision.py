"""meeting host, key and synced revision

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 19:16:08.996084
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host_user_id", sa.Integer(), nullable=True))
        # Server defaults so that rows written before this revision get valid values.
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("synced_revision", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.create_foreign_key("fk_meetings_host_user_id_users", "users",
                                    ["host_user_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_meetings_host_user_id_users", type_="foreignkey")
        batch_op.drop_column("synced_revision")
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("host_user_id")
