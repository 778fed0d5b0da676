"""Many chats' turns taken at once (the button redrawer's batch) agree with one at a time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from db.delivery.pace import reserve_chat_slot, reserve_chat_slots
from db.engine import session_scope
from db.types import utcnow


def test_turns_taken_in_bulk_wait_as_turns_taken_one_by_one(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        # "b" was answered a moment ago by another process: its turn comes in 0.6 s.
        assert (
            reserve_chat_slot(
                session, "telegram", "b", interval=1.0, now=now - timedelta(seconds=0.4)
            )
            == 0
        )
    with session_scope(engine) as session:
        waits = reserve_chat_slots(session, "telegram", ["a", "b", "a", "c"], interval=1.0, now=now)
    assert waits == [0.0, 0.6, 1.0, 0.0]  # a chat named twice gets two turns
    with session_scope(engine) as session:
        later = [
            reserve_chat_slot(session, "telegram", chat, interval=1.0, now=now)
            for chat in ("a", "b", "c", "d")
        ]
        assert reserve_chat_slots(session, "whatsapp", ["a"], interval=1.0, now=now) == [0.0]
    assert later == [2.0, 1.6, 1.0, 0.0]  # the turns were stored: the next sends wait
