"""participation counters per post and OPD"""

from db.migrations.shapes import Table, counters, foreign_key, integer, primary_key, table_migration

revision: str = '0004'
down_revision: str | None = '0003'

upgrade, downgrade = table_migration(Table('post_opd_stat', [
    integer('post_id'),
    integer('opd_id'),
    *counters('delivered', 'liked', 'shared', 'participated'),
    foreign_key('opd_id', 'opd'),
    foreign_key('post_id', 'post', ondelete='CASCADE'),
    primary_key('post_id', 'opd_id'),
]))
