"""WhatsApp: what each delivery was sent as and billed; an ASN's preferred channel

``delivery.template_at``: when it went as an approved template (outside the customer-service
window): a template counts its recipient against the messaging-limit tier for 24 hours, and
is what Meta bills. ``billable`` and
``pricing_category`` come from the ``pricing`` object of the delivery's status webhooks, so the
report shows the cost actually billed, not an estimate. ``asn.preferred_channel`` overrides the
deployment's preference for an ASN reachable on both channels.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0013'
down_revision: str | None = '0007'


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('template_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('billable', sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column('pricing_category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.create_index('ix_delivery_template_at', ['template_at'], unique=False)
    with op.batch_alter_table('chat_identity', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index('ix_chat_identity_user_id', ['user_id'], unique=False)
    with op.batch_alter_table('asn', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('preferred_channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('asn', schema=None) as batch_op:
        batch_op.drop_column('preferred_channel')
    with op.batch_alter_table('chat_identity', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_identity_user_id')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_template_at')
        batch_op.drop_column('pricing_category')
        batch_op.drop_column('billable')
        batch_op.drop_column('template_at')
