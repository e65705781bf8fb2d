"""file offers: files waiting for a Teams user's consent, or behind a one-time download link

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fileoffer',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('mime', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('fileoffer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fileoffer_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fileoffer_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fileoffer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fileoffer_person_id'))
        batch_op.drop_index(batch_op.f('ix_fileoffer_expires_at'))

    op.drop_table('fileoffer')
