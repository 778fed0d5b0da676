"""dashboard sessions kept server-side; the signing key leaves the database

Sign-in links become single use and sessions can be ended at once, so both are rows of
``dashboard_session``. The key that signs them now comes from ``GAUNG_SECRET_KEY``; the
dashboard's signing key row in ``app_secret`` (which every backup carried) is deleted, so
links and sessions signed with it simply stop working: staff sign in again. The table stays
for the tracked-link key, which signs no one in.
"""

from alembic import op

from db.migrations.shapes import Index, Table, check, created_at, id_key, moment, string, unique

revision: str = '0009'
down_revision: str | None = '0011'

DASHBOARD_SESSION = Table('dashboard_session', [
    *id_key(),
    string('kind', 8),
    string('token_hash', 64),
    string('subject', 32),
    created_at(),
    moment('expires_at'),
    moment('used_at', nullable=True),
    moment('ended_at', nullable=True),
    check('kind', "kind IN ('link', 'session')"),
    unique('token_hash'),
], [Index('ix_dashboard_session_subject', ['subject'])])


def upgrade() -> None:
    DASHBOARD_SESSION.create()
    op.execute("DELETE FROM app_secret WHERE name = 'dashboard-link'")


def downgrade() -> None:
    DASHBOARD_SESSION.drop()
