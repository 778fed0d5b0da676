"""channel state and worker heartbeats"""

from db.migrations.shapes import Table, moment, primary_key, string, table_migration

revision: str = '0002'
down_revision: str | None = '0001'

upgrade, downgrade = table_migration(
    Table('channel_state', [
        string('channel', 16),
        moment('paused_until', nullable=True),
        moment('updated_at'),
        primary_key('channel'),
    ]),
    Table('worker_heartbeat', [
        string('id', 64),
        moment('started_at'),
        moment('seen_at'),
        primary_key('id'),
    ]),
)
