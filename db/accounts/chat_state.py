"""Multi-step chat state, in the database so every process sees the same conversation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from db.models import ChatState
from db.types import utcnow

EXPIRES = timedelta(hours=1)


def get_state(
    session: Session, channel: str, external_id: str, *, now: datetime | None = None
) -> tuple[str, dict[str, Any]] | None:
    row = session.get(ChatState, (channel, external_id))
    if row is None:
        return None
    if (now or utcnow()) - row.updated_at > EXPIRES:
        session.delete(row)
        session.flush()
        return None
    return row.state, json.loads(row.data or "{}")


def set_state(session: Session, channel: str, external_id: str, state: str, **data: Any) -> None:
    row = session.get(ChatState, (channel, external_id))
    if row is None:
        row = ChatState(channel=channel, external_id=external_id, state=state)
    row.state, row.data, row.updated_at = state, json.dumps(data), utcnow()
    session.add(row)
    session.flush()


def clear_state(session: Session, channel: str, external_id: str) -> None:
    row = session.get(ChatState, (channel, external_id))
    if row is not None:
        session.delete(row)
        session.flush()
