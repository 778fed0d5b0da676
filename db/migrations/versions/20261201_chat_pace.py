"""chat pace: per-chat spacing shared by every process"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0017'
down_revision: str | None = '0016'


def upgrade() -> None:
    op.create_table('chat_pace',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('next_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'chat_id', name=op.f('pk_chat_pace'))
    )


def downgrade() -> None:
    op.drop_table('chat_pace')
