"""Two partial indexes for the reminder claim (issues 10 and 12)

``claim_reminders`` runs in every worker every reminder round. Without these it read every sent
delivery (the status index matches nearly all of them) and, for each one in the week's window,
every delivery of its ASN to count their reminders of the week: on a year of data (8.76 M
deliveries) one claim outlasted a 10-minute statement timeout. ``ix_delivery_remind_due`` holds
the rows still waiting for a reminder, by ``sent_at`` (after ``status``, the same in every row:
SQLite, which has no statistics, would otherwise prefer ``ix_delivery_due`` for the status
alone): the claim reads the week's window in order from it. ``ix_delivery_reminded`` holds only the reminded rows, by ASN and time: the
weekly cap's count is a short range of it.
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"

DUE = "status = 'sent' AND reminded_at IS NULL"
REMINDED = "reminded_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_delivery_remind_due",
        "delivery",
        ["status", "sent_at", "id"],
        unique=False,
        sqlite_where=sa.text(DUE),
        postgresql_where=sa.text(DUE),
    )
    op.create_index(
        "ix_delivery_reminded",
        "delivery",
        ["asn_id", "reminded_at"],
        unique=False,
        sqlite_where=sa.text(REMINDED),
        postgresql_where=sa.text(REMINDED),
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_reminded", table_name="delivery")
    op.drop_index("ix_delivery_remind_due", table_name="delivery")
