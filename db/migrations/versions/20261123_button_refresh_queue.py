"""button refresh queue"""

from db.migrations.shapes import Index, Table, big_integer, foreign_key, integer, moment, primary_key, table_migration

revision: str = '0005'
down_revision: str | None = '0004'

upgrade, downgrade = table_migration(Table('button_refresh', [
    big_integer('delivery_id'),
    integer('version'),
    moment('queued_at'),
    moment('claimed_until', nullable=True),
    foreign_key('delivery_id', 'delivery', ondelete='CASCADE'),
    primary_key('delivery_id'),
], [Index('ix_button_refresh_queued_at', ['queued_at'])]))
