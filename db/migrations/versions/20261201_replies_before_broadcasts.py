"""replies before broadcasts across processes: the bot's recent reply rate and the broadcasts' turn"""

from db.migrations.shapes import add_columns, drop_columns, moment, real

revision: str = '0020'
down_revision: str | None = '0019'

CHANNEL_STATE = (
    real('urgent_rate', nullable=True),
    moment('urgent_at', nullable=True),
    moment('bulk_next_at', nullable=True),
)


def upgrade() -> None:
    add_columns('channel_state', CHANNEL_STATE)


def downgrade() -> None:
    drop_columns('channel_state', CHANNEL_STATE)
