"""one pace per bot: shared send budget, skipped deliveries, failure kinds, time budgets"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0007'
down_revision: str | None = '0009'

OLD_STATUS = "status IN ('pending', 'sending', 'sent', 'failed')"
NEW_STATUS = "status IN ('pending', 'sending', 'sent', 'failed', 'skipped')"
FAILURE_KIND = "failure_kind IN ('transient', 'refused', 'unreachable', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('failure_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column('first_tried_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(op.f('ck_delivery_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_delivery_status'), NEW_STATUS)
        batch_op.create_check_constraint(op.f('ck_delivery_failure_kind'), FAILURE_KIND)
    # Failures recorded before this revision: a 403/chat-not-found was unreachable, a
    # cancellation says so; the rest stay unknown and are never retried automatically.
    op.execute(
        "UPDATE delivery SET failure_kind = 'cancelled' "
        "WHERE status = 'failed' AND error = 'postingan dibatalkan'"
    )
    with op.batch_alter_table('channel_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('failed_rate', sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column('next_slot_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('rate_changed_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('channel_state', schema=None) as batch_op:
        batch_op.drop_column('rate_changed_at')
        batch_op.drop_column('next_slot_at')
        batch_op.drop_column('failed_rate')
        batch_op.drop_column('rate')
    op.execute(
        "UPDATE delivery SET status = 'failed', error = COALESCE(error, 'dilewati') "
        "WHERE status = 'skipped'"
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_failure_kind'), type_='check')
        batch_op.drop_constraint(op.f('ck_delivery_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_delivery_status'), OLD_STATUS)
        batch_op.drop_column('first_tried_at')
        batch_op.drop_column('failure_kind')
