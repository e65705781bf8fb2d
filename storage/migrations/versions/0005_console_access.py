"""console access: one-time sign-in links and browser sessions of the manager's web console,
both stored as the SHA-256 of their token

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consolelink',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('consolelink', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consolelink_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consolelink_expires_at'), ['expires_at'], unique=False)
    op.create_table('consolesession',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('consolesession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consolesession_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consolesession_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    op.drop_table('consolesession')
    op.drop_table('consolelink')
