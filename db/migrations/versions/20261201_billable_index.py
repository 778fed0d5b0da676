"""A partial index on the deliveries Meta billed (issue 11)

The participation report's ``whatsapp`` field counts the billed deliveries of its window. With
no index on ``billable`` that read every delivery of the window on SQLite (a year: millions, on
every request); the partial index holds only the billed ones, so the report starts from them.
"""

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'


def upgrade() -> None:
    op.create_index(
        'ix_delivery_billable',
        'delivery',
        ['post_id'],
        unique=False,
        sqlite_where=sa.text('billable IS 1'),
        postgresql_where=sa.text('billable IS true'),
    )


def downgrade() -> None:
    op.drop_index('ix_delivery_billable', table_name='delivery')
