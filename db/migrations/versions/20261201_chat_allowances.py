"""per-person allowances (NIP attempts, messages, admin pages)"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0011'
down_revision: str | None = '0008'


def upgrade() -> None:
    op.create_table(
        'chat_allowance',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('window_start', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'subject', name=op.f('pk_chat_allowance')),
    )


def downgrade() -> None:
    op.drop_table('chat_allowance')
