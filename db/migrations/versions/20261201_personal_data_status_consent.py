"""personal data: ASN status (PNS/PPPK), consent versions and withdrawals, erasure

``delivery.asn_id`` becomes nullable so that an erased (or long departed) person's deliveries
keep counting for their OPD without saying whose they were. On SQLite that recreates the
delivery and asn tables; ``db.migrate.upgrade`` turns foreign keys off around migrations so
that the recreation does not cascade into confirmations.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0008'
down_revision: str | None = '0012'


def upgrade() -> None:
    with op.batch_alter_table('asn', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column('consent_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('erased_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('left_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_asn_status'), "status IS NULL OR status IN ('PNS', 'PPPK')"
        )
    # Who already left the roster left, at the latest, when their row last changed.
    op.execute("UPDATE asn SET left_at = updated_at WHERE active = false")

    op.create_table('consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asn_id', sa.Integer(), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("event IN ('given', 'opted_out', 'resumed', 'erased')", name=op.f('ck_consent_event')),
    sa.ForeignKeyConstraint(['asn_id'], ['asn.id'], name=op.f('fk_consent_asn_id_asn'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent'))
    )
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index('ix_consent_asn', ['asn_id'], unique=False)
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
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_asn')
    op.drop_table('consent')
    with op.batch_alter_table('asn', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_asn_status'), type_='check')
        batch_op.drop_column('left_at')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('consent_version')
        batch_op.drop_column('status')
