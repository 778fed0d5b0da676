"""clarification posts, their reach recap, share evidence"""

from db.migrations.shapes import Index, add_columns, drop_columns, moment, string

revision: str = '0015'
down_revision: str | None = '0014'

POST = (moment('clarification_at', nullable=True), moment('reach_recap_at', nullable=True))
CONFIRMATION = (string('evidence_url', 2048, nullable=True), moment('evidence_at', nullable=True))
EVIDENCE_AT = Index('ix_confirmation_evidence_at', ['evidence_at'])


def upgrade() -> None:
    add_columns('post', POST)
    add_columns('confirmation', CONFIRMATION, EVIDENCE_AT)


def downgrade() -> None:
    drop_columns('confirmation', CONFIRMATION, EVIDENCE_AT)
    drop_columns('post', POST)
