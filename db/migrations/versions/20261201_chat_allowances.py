"""per-person allowances (NIP attempts, messages, admin pages)

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-01 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0011'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
