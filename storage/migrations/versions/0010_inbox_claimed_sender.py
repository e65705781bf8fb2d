"""at most one claimed inbox row per sender (a request may be stored already claimed)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

CLAIMED = sa.text("status = 'claimed'")


def upgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_claimed_sender', ['sender'], unique=True,
                              postgresql_where=CLAIMED, sqlite_where=CLAIMED)


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_claimed_sender')
