"""chat pace: per-chat spacing shared by every process"""

from db.migrations.shapes import Table, moment, primary_key, string, table_migration

revision: str = '0017'
down_revision: str | None = '0016'

upgrade, downgrade = table_migration(Table('chat_pace', [
    string('channel', 16),
    string('chat_id', 64),
    moment('next_at'),
    primary_key('channel', 'chat_id'),
]))
