"""one pace per bot: shared send budget, skipped deliveries, failure kinds, time budgets"""

from alembic import op

from db.migrations.shapes import add_columns, adding_columns, drop_columns, dropping_columns, moment, real, string

revision: str = '0007'
down_revision: str | None = '0009'

OLD_STATUS = "status IN ('pending', 'sending', 'sent', 'failed')"
NEW_STATUS = "status IN ('pending', 'sending', 'sent', 'failed', 'skipped')"
FAILURE_KIND = "failure_kind IN ('transient', 'refused', 'unreachable', 'cancelled')"

DELIVERY = (string('failure_kind', 16, nullable=True), moment('first_tried_at', nullable=True))
CHANNEL_STATE = (
    real('rate', nullable=True),
    real('failed_rate', nullable=True),
    moment('next_slot_at', nullable=True),
    moment('rate_changed_at', nullable=True),
)


def upgrade() -> None:
    with adding_columns('delivery', DELIVERY) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_delivery_status'), NEW_STATUS)
        batch_op.create_check_constraint(op.f('ck_delivery_failure_kind'), FAILURE_KIND)
    # Failures recorded before this revision: a 403/chat-not-found was unreachable, a
    # cancellation says so; the rest stay unknown and are never retried automatically.
    op.execute(
        "UPDATE delivery SET failure_kind = 'cancelled' "
        "WHERE status = 'failed' AND error = 'postingan dibatalkan'"
    )
    add_columns('channel_state', CHANNEL_STATE)


def downgrade() -> None:
    drop_columns('channel_state', CHANNEL_STATE)
    op.execute(
        "UPDATE delivery SET status = 'failed', error = COALESCE(error, 'dilewati') "
        "WHERE status = 'skipped'"
    )
    with dropping_columns('delivery', DELIVERY) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_failure_kind'), type_='check')
        batch_op.drop_constraint(op.f('ck_delivery_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_delivery_status'), OLD_STATUS)
