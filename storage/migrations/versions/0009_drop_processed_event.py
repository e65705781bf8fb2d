"""processed-event keys go: the inbox row is each request's record (its key turns a
platform's retry away), so the engine keeps no second one

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('processedevent')


def downgrade() -> None:
    op.create_table('processedevent',
                    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200),
                              nullable=False),
                    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
