"""WhatsApp inbox keys become digests of the message id (issue 12)

A Cloud API message id (``wamid.…``) is base64 over a record that holds the user's phone number,
and ``processed_update`` kept it as the key of every WhatsApp update for the retention period,
long after ``/hapus`` erased that number everywhere else. The webhook now stores a digest
(``bot.whatsapp.webhook.inbox_key``); the rows stored before are rewritten the same way here, so
no raw id stays behind and a redelivery that arrives across the upgrade is still recognised
(Meta retries for days) instead of being handled, and answered, twice.

Down: a digest cannot be turned back into the id; the keys stay digests.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"

BATCH = 5000
DIGEST = 32  # hex characters kept of the SHA-256


def _digest(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()[:DIGEST]


def _is_digest(text: str) -> bool:
    return len(text) == DIGEST and all(c in "0123456789abcdef" for c in text)


def _rewritten(key: str) -> str | None:
    """The key as the webhook now writes it: ``<digest>`` for a message, ``s:<digest>:<status>``
    for a status; None when it is one already."""
    if key.startswith("s:"):
        message_id, _, status = key[2:].rpartition(":")
        if not message_id or _is_digest(message_id):
            return None
        return f"s:{_digest(message_id)}:{status}"
    return None if _is_digest(key) else _digest(key)


def upgrade() -> None:
    connection = op.get_bind()
    inbox = sa.table("processed_update", sa.column("channel"), sa.column("update_id"))
    rename = (
        inbox.update()
        .where(inbox.c.channel == "whatsapp", inbox.c.update_id == sa.bindparam("old"))
        .values(update_id=sa.bindparam("new"))
    )
    keys = connection.execute(
        sa.select(inbox.c.update_id)
        .where(inbox.c.channel == "whatsapp")
        .execution_options(yield_per=BATCH)  # this statement only: a year of statuses
    )
    for part in keys.partitions():
        changes = [
            {"old": key, "new": new} for (key,) in part if (new := _rewritten(key)) is not None
        ]
        if changes:
            connection.execute(rename, changes)


def downgrade() -> None:
    pass
