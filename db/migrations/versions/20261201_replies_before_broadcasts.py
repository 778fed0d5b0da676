"""replies before broadcasts across processes: the bot's recent reply rate and the broadcasts' turn"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0020'
down_revision: str | None = '0019'


def upgrade() -> None:
    with op.batch_alter_table('channel_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('urgent_rate', sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column('urgent_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('bulk_next_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('channel_state', schema=None) as batch_op:
        batch_op.drop_column('bulk_next_at')
        batch_op.drop_column('urgent_at')
        batch_op.drop_column('urgent_rate')
