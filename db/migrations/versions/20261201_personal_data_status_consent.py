"""personal data: ASN status (PNS/PPPK), consent versions and withdrawals, erasure

``delivery.asn_id`` becomes nullable so that an erased (or long departed) person's deliveries
keep counting for their OPD without saying whose they were. On SQLite that recreates the
delivery and asn tables; ``db.migrate.upgrade`` turns foreign keys off around migrations so
that the recreation does not cascade into confirmations.
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.shapes import Index, Table, adding_columns, check, dropping_columns, foreign_key, id_key, integer, moment, string

revision: str = '0008'
down_revision: str | None = '0012'

ASN = (
    string('status', 8, nullable=True),
    string('consent_version', 32, nullable=True),
    moment('erased_at', nullable=True),
    moment('left_at', nullable=True),
)
CONSENT = Table('consent', [
    *id_key(),
    integer('asn_id'),
    string('event', 16),
    string('version', 32, nullable=True),
    string('channel', 16, nullable=True),
    moment('at'),
    check('event', "event IN ('given', 'opted_out', 'resumed', 'erased')"),
    foreign_key('asn_id', 'asn', ondelete='CASCADE'),
], [Index('ix_consent_asn', ['asn_id'])])


def upgrade() -> None:
    with adding_columns('asn', ASN) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_asn_status'), "status IS NULL OR status IN ('PNS', 'PPPK')"
        )
    # Who already left the roster left, at the latest, when their row last changed.
    op.execute("UPDATE asn SET left_at = updated_at WHERE active = false")

    CONSENT.create()
    # Consents given before versions were recorded: the text of that time, named 'sebelum-2026-12-01'.
    op.execute(
        "INSERT INTO consent (asn_id, event, version, channel, at) "
        "SELECT id, 'given', 'sebelum-2026-12-01', NULL, consent_at FROM asn WHERE consent_at IS NOT NULL"
    )
    op.execute("UPDATE asn SET consent_version = 'sebelum-2026-12-01' WHERE consent_at IS NOT NULL")

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('asn_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Anonymised deliveries cannot point at anyone again: they go, their counters stay.
    op.execute("DELETE FROM delivery WHERE asn_id IS NULL")
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('asn_id', existing_type=sa.Integer(), nullable=False)
    CONSENT.drop()
    with dropping_columns('asn', ASN) as batch_op:
        batch_op.drop_constraint(op.f('ck_asn_status'), type_='check')
