"""dashboard sessions kept server-side; the signing key leaves the database

Sign-in links become single use and sessions can be ended at once, so both are rows of
``dashboard_session``. The key that signs them now comes from ``GAUNG_SECRET_KEY``; the
dashboard's signing key row in ``app_secret`` (which every backup carried) is deleted, so
links and sessions signed with it simply stop working: staff sign in again. The table stays
for the tracked-link key, which signs no one in.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0009'
down_revision: str | None = '0011'


def upgrade() -> None:
    op.create_table('dashboard_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('link', 'session')", name=op.f('ck_dashboard_session_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_dashboard_session_token_hash'))
    )
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.create_index('ix_dashboard_session_subject', ['subject'], unique=False)
    op.execute("DELETE FROM app_secret WHERE name = 'dashboard-link'")


def downgrade() -> None:
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.drop_index('ix_dashboard_session_subject')
    op.drop_table('dashboard_session')
