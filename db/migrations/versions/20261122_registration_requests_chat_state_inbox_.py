"""registration requests chat state inbox secrets"""

from db.migrations.shapes import Index, Table, check, created_at, foreign_key, id_key, integer, moment, primary_key, string, table_migration

revision: str = '0003'
down_revision: str | None = '0002'

upgrade, downgrade = table_migration(
    Table('app_secret', [
        string('name', 32),
        string('value', 128),
        created_at(),
        primary_key('name'),
    ]),
    Table('chat_state', [
        string('channel', 16),
        string('external_id', 64),
        string('state', 32),
        string('data', nullable=True),
        moment('updated_at'),
        primary_key('channel', 'external_id'),
    ]),
    Table('processed_update', [
        string('channel', 16),
        string('update_id', 128),
        string('payload', nullable=True),
        moment('at'),
        moment('handled_at', nullable=True),
        primary_key('channel', 'update_id'),
    ], [
        Index('ix_processed_update_at', ['at']),
        Index('ix_processed_update_unhandled', ['channel', 'handled_at']),
    ]),
    Table('registration_request', [
        *id_key(),
        integer('asn_id'),
        string('channel', 16),
        string('external_id', 64),
        string('chat_id', 64),
        string('status', 16),
        integer('decided_by', nullable=True),
        created_at(),
        moment('decided_at', nullable=True),
        check('channel', "channel IN ('telegram', 'whatsapp')"),
        check('status', "status IN ('pending', 'approved', 'rejected')"),
        foreign_key('asn_id', 'asn', ondelete='CASCADE'),
        foreign_key('decided_by', 'admin'),
    ], [
        Index(
            'uq_registration_request_pending',
            ['channel', 'external_id'],
            unique=True,
            where="status = 'pending'",
        ),
    ]),
)
