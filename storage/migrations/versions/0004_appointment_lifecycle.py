"""appointments are calendar events: a stable uid, a sequence raised on every move, when changed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import uuid

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('changed_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    connection = op.get_bind()
    appointment = sa.table('appointment', sa.column('id', sa.Integer), sa.column('uid', sa.String))
    for (appointment_id,) in connection.execute(sa.select(appointment.c.id)).fetchall():
        connection.execute(appointment.update().where(appointment.c.id == appointment_id)
                           .values(uid=uuid.uuid4().hex))
    # The old lifecycle stored a replaced booking as "moved"; now a move keeps the appointment.
    connection.execute(sa.text("UPDATE appointment SET status = 'cancelled' WHERE status = 'moved'"))
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.alter_column('uid', server_default=None)
        batch_op.alter_column('sequence', server_default=None)
        batch_op.create_index('ix_appointment_uid', ['uid'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index('ix_appointment_uid')
        batch_op.drop_column('changed_at')
        batch_op.drop_column('sequence')
        batch_op.drop_column('uid')
