"""admin identity: when the admin last wrote (their WhatsApp 24-hour window)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('admin_identity', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('last_inbound_at', db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('admin_identity', schema=None) as batch_op:
        batch_op.drop_column('last_inbound_at')
