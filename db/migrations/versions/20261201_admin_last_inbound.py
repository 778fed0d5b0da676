"""admin identity: when the admin last wrote (their WhatsApp 24-hour window)"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0018'
down_revision: str | None = '0017'


def upgrade() -> None:
    with op.batch_alter_table('admin_identity', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('last_inbound_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('admin_identity', schema=None) as batch_op:
        batch_op.drop_column('last_inbound_at')
