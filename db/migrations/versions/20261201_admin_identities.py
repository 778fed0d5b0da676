"""admins are people with chat identities: admin_identity replaces admin.telegram_id / phone

Each admin's Telegram id becomes a ``telegram`` identity and each phone a ``whatsapp`` identity
(the number's digits, which is how WhatsApp names an account), then the two columns go.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0006'
down_revision: str | None = '0005'


def upgrade() -> None:
    op.create_table('admin_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('telegram', 'whatsapp')", name=op.f('ck_admin_identity_channel')),
    sa.ForeignKeyConstraint(['admin_id'], ['admin.id'], name=op.f('fk_admin_identity_admin_id_admin'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_identity')),
    sa.UniqueConstraint('admin_id', 'channel', name=op.f('uq_admin_identity_admin_id_channel')),
    sa.UniqueConstraint('channel', 'external_id', name=op.f('uq_admin_identity_channel_external_id'))
    )
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
    with op.batch_alter_table('admin', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_admin_reachable'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_admin_phone'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_admin_telegram_id'), type_='unique')
        batch_op.drop_column('telegram_id')
        batch_op.drop_column('phone')


def downgrade() -> None:
    with op.batch_alter_table('admin', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('telegram_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
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
