"""daily recap claims and silence nudges"""

from db.migrations.shapes import Index, Table, day, foreign_key, id_key, integer, moment, string, table_migration, unique

revision: str = '0014'
down_revision: str | None = '0013'

upgrade, downgrade = table_migration(
    Table('recap_run', [
        *id_key(),
        string('kind', 32),
        day('day'),
        string('claimed_by', 64, nullable=True),
        moment('claimed_at'),
        moment('finished_at', nullable=True),
        integer('sent'),
        unique('kind', 'day'),
    ]),
    Table('silence_nudge', [
        *id_key(),
        integer('opd_id'),
        moment('nudged_at'),
        integer('silent_days', nullable=True),
        foreign_key('opd_id', 'opd', ondelete='CASCADE'),
    ], [Index('ix_silence_nudge_opd_at', ['opd_id', 'nudged_at'])]),
)
