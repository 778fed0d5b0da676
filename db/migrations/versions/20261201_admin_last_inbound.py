"""admin identity: when the admin last wrote (their WhatsApp 24-hour window)"""

from db.migrations.shapes import add_columns, drop_columns, moment

revision: str = '0018'
down_revision: str | None = '0017'

COLUMNS = (moment('last_inbound_at', nullable=True),)


def upgrade() -> None:
    add_columns('admin_identity', COLUMNS)


def downgrade() -> None:
    drop_columns('admin_identity', COLUMNS)
