"""A channel service's side of the webhook inbox (``db.delivery.inbox``): every stored update is
marked handled once handled, and whatever a crash left unhandled is handed out again at start.

Both run in a thread (``asyncio.to_thread``), each in its own transaction, so that the event
loop keeps answering webhooks while the database works.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine

from db.delivery.inbox import mark_handled, unhandled
from db.engine import session_scope


async def handled(engine: Engine, channel: str, update_id: str) -> None:
    """Mark one update of ``channel`` handled (its payload is dropped)."""

    def mark() -> None:
        with session_scope(engine) as session:
            mark_handled(session, channel, update_id)

    await asyncio.to_thread(mark)


async def leftovers(engine: Engine, channel: str) -> list[tuple[str, dict[str, Any]]]:
    """The updates of ``channel`` stored but not handled, oldest first: (update id, payload)."""

    def read() -> list[tuple[str, dict[str, Any]]]:
        with session_scope(engine) as session:
            return unhandled(session, channel)

    return await asyncio.to_thread(read)
