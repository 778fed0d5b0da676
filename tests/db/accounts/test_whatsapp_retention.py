"""Retention on the WhatsApp path, where a chat account is a phone number: old inbox rows of
WhatsApp (messages and statuses) go, and so do the per-account rows that name a number
(allowances, reply pacing) once they are older than the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlmodel import Session

from db.accounts.retention import purge_expired
from db.models import ChatAllowance, ChatPace, ProcessedUpdate, table

NOW = datetime.now(UTC).replace(microsecond=0)
OLD, RECENT = NOW - timedelta(days=400), NOW - timedelta(days=1)


def test_old_whatsapp_inbox_rows_and_rows_naming_a_number_are_purged(session: Session) -> None:
    conn = session.connection()
    conn.execute(
        insert(table(ProcessedUpdate)),
        [
            {"channel": "whatsapp", "update_id": "wamid.old", "at": OLD, "handled_at": OLD},
            {"channel": "whatsapp", "update_id": "s:wamid.old:read", "at": OLD, "handled_at": OLD},
            {"channel": "whatsapp", "update_id": "wamid.new", "at": RECENT, "handled_at": RECENT},
        ],
    )
    conn.execute(
        insert(table(ChatAllowance)),
        [
            {
                "kind": "message",
                "subject": "whatsapp:6281111111111",
                "window_start": OLD,
                "used": 3,
            },
            {"kind": "nip", "subject": "whatsapp:6282222222222", "window_start": RECENT, "used": 1},
        ],
    )
    conn.execute(
        insert(table(ChatPace)),
        [
            {"channel": "whatsapp", "chat_id": "6281111111111", "next_at": OLD},
            {"channel": "whatsapp", "chat_id": "6282222222222", "next_at": RECENT},
        ],
    )
    session.commit()

    purged = purge_expired(session, months=12, now=NOW)
    session.commit()

    assert purged.updates == 2
    inbox = table(ProcessedUpdate)
    assert session.connection().execute(select(inbox.c.update_id)).all() == [("wamid.new",)]
    allowances = session.connection().execute(select(table(ChatAllowance).c.subject)).all()
    assert allowances == [("whatsapp:6282222222222",)]
    paces = session.connection().execute(select(table(ChatPace).c.chat_id)).all()
    assert paces == [("6282222222222",)]
    assert purged.chats == 2
