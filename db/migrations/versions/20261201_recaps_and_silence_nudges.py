"""daily recap claims and silence nudges"""

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0014'
down_revision: str | None = '0013'


def upgrade() -> None:
    op.create_table(
        'recap_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('claimed_by', sa.String(length=64), nullable=True),
        sa.Column('claimed_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('sent', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recap_run')),
        sa.UniqueConstraint('kind', 'day', name=op.f('uq_recap_run_kind_day')),
    )
    op.create_table(
        'silence_nudge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('opd_id', sa.Integer(), nullable=False),
        sa.Column('nudged_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('silent_days', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['opd_id'], ['opd.id'], name=op.f('fk_silence_nudge_opd_id_opd'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_silence_nudge')),
    )
    with op.batch_alter_table('silence_nudge', schema=None) as batch_op:
        batch_op.create_index('ix_silence_nudge_opd_at', ['opd_id', 'nudged_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('silence_nudge', schema=None) as batch_op:
        batch_op.drop_index('ix_silence_nudge_opd_at')
    op.drop_table('silence_nudge')
    op.drop_table('recap_run')
