"""admins are people with chat identities: admin_identity replaces admin.telegram_id / phone

Each admin's Telegram id becomes a ``telegram`` identity and each phone a ``whatsapp`` identity
(the number's digits, which is how WhatsApp names an account), then the two columns go.
"""

from alembic import op

from db.migrations.shapes import Table, add_columns, big_integer, check, created_at, dropping_columns, foreign_key, id_key, integer, string, unique

revision: str = '0006'
down_revision: str | None = '0005'

ADMIN_IDENTITY = Table('admin_identity', [
    *id_key(),
    integer('admin_id'),
    string('channel', 16),
    string('external_id', 64),
    string('chat_id', 64),
    created_at(),
    check('channel', "channel IN ('telegram', 'whatsapp')"),
    foreign_key('admin_id', 'admin', ondelete='CASCADE'),
    unique('admin_id', 'channel'),
    unique('channel', 'external_id'),
])
ADMIN_CONTACTS = (string('phone', 20, nullable=True), big_integer('telegram_id', nullable=True))


def upgrade() -> None:
    ADMIN_IDENTITY.create()
    op.execute(
        "INSERT INTO admin_identity (admin_id, channel, external_id, chat_id, created_at) "
        "SELECT id, 'telegram', CAST(telegram_id AS VARCHAR(64)), "
        "CAST(telegram_id AS VARCHAR(64)), created_at FROM admin WHERE telegram_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO admin_identity (admin_id, channel, external_id, chat_id, created_at) "
        "SELECT id, 'whatsapp', REPLACE(phone, '+', ''), REPLACE(phone, '+', ''), created_at "
        "FROM admin WHERE phone IS NOT NULL"
    )
    with dropping_columns('admin', ADMIN_CONTACTS) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_admin_reachable'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_admin_phone'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_admin_telegram_id'), type_='unique')


def downgrade() -> None:
    add_columns('admin', ADMIN_CONTACTS)
    op.execute(
        "UPDATE admin SET telegram_id = (SELECT CAST(i.external_id AS BIGINT) FROM admin_identity i "
        "WHERE i.admin_id = admin.id AND i.channel = 'telegram')"
    )
    op.execute(
        "UPDATE admin SET phone = (SELECT '+' || i.external_id FROM admin_identity i "
        "WHERE i.admin_id = admin.id AND i.channel = 'whatsapp')"
    )
    with op.batch_alter_table('admin', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_admin_telegram_id'), ['telegram_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_admin_phone'), ['phone'])
        batch_op.create_check_constraint(batch_op.f('ck_admin_reachable'), 'telegram_id IS NOT NULL OR phone IS NOT NULL')
    op.drop_table('admin_identity')
