"""web: API keys, platform webhook subscriptions, connect links

Revision ID: 0003_web
Revises: 0002
Create Date: 2026-11-21 19:51:10.995387
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetbridge.db


revision: str = '0003_web'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', meetbridge.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name='fk_webhook_subscriptions_organization_id'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_subscriptions_organization_id'), ['organization_id'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=128), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', meetbridge.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', meetbridge.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', meetbridge.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name='fk_api_keys_created_by_user_id'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name='fk_api_keys_organization_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prefix', name='uq_api_keys_prefix')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_organization_id'), ['organization_id'], unique=False)

    op.create_table('connect_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('account_level', sa.Boolean(), nullable=False),
    sa.Column('return_url', sa.String(length=2000), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('expires_at', meetbridge.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', meetbridge.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', meetbridge.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name='fk_connect_links_organization_id'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_connect_links_user_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash', name='uq_connect_links_token_hash')
    )


def downgrade() -> None:
    op.drop_table('connect_links')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_organization_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('webhook_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_subscriptions_organization_id'))

    op.drop_table('webhook_subscriptions')
