"""clarification posts, their reach recap, share evidence"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0015'
down_revision: str | None = '0014'


def upgrade() -> None:
    # Nullable columns only: a plain ALTER on both engines, no copy of the big tables.
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clarification_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reach_recap_at', db.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('confirmation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('evidence_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_confirmation_evidence_at', ['evidence_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('confirmation', schema=None) as batch_op:
        batch_op.drop_index('ix_confirmation_evidence_at')
        batch_op.drop_column('evidence_at')
        batch_op.drop_column('evidence_url')
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_column('reach_recap_at')
        batch_op.drop_column('clarification_at')
