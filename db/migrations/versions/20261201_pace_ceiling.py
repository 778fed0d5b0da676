"""the ceiling a channel's learned pace belongs to: a raised limit keeps the learned fraction"""

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'


def upgrade() -> None:
    with op.batch_alter_table('channel_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ceiling', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_state', schema=None) as batch_op:
        batch_op.drop_column('ceiling')
