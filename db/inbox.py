"""The webhook inbox: an update is stored (once) before the webhook answers 200."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from db.models import ProcessedUpdate, table
from db.types import utcnow


def store_update(session: Session, channel: str, update_id: str, payload: dict[str, Any]) -> bool:
    """True when the update is new; a redelivery returns False and changes nothing."""
    if session.get(ProcessedUpdate, (channel, update_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                ProcessedUpdate(channel=channel, update_id=update_id, payload=json.dumps(payload))
            )
    except IntegrityError:
        return False
    return True


def mark_handled(
    session: Session, channel: str, update_id: str, *, now: datetime | None = None
) -> None:
    inbox = table(ProcessedUpdate)
    session.connection().execute(
        update(inbox)
        .where(inbox.c.channel == channel, inbox.c.update_id == update_id)
        .values(handled_at=now or utcnow(), payload=None)
    )


def unhandled(session: Session, channel: str, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
    inbox = table(ProcessedUpdate)
    rows = session.connection().execute(
        select(inbox.c.update_id, inbox.c.payload)
        .where(inbox.c.channel == channel, inbox.c.handled_at.is_(None))
        .order_by(inbox.c.at)
        .limit(limit)
    )
    return [(update_id, json.loads(payload or "{}")) for update_id, payload in rows]
