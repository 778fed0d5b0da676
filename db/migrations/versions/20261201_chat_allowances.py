"""per-person allowances (NIP attempts, messages, admin pages)"""

from db.migrations.shapes import Table, integer, moment, primary_key, string, table_migration

revision: str = '0011'
down_revision: str | None = '0008'

upgrade, downgrade = table_migration(Table('chat_allowance', [
    string('kind', 16),
    string('subject', 100),
    moment('window_start'),
    integer('used'),
    primary_key('kind', 'subject'),
]))
