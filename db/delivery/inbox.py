"""The webhook inbox: an update is stored (once) before the webhook answers 200."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Executable, String, Text, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.delivery.arrays import unnested
from db.models import ProcessedUpdate, table
from db.types import UTCDateTime, utcnow


def store_updates(
    session: Session,
    channel: str,
    updates: Sequence[tuple[str, dict[str, Any] | None]],
    *,
    now: datetime | None = None,
) -> set[str]:
    """Store each (update_id, payload) not stored before; returns the ids that were new.

    A payload of None means the caller handles the update in this same transaction: the row
    is stored already handled, only to recognise a redelivery. Racing writers of one id are
    settled by the primary key (``ON CONFLICT DO NOTHING``), so exactly one sees it as new.
    """
    first: dict[str, dict[str, Any] | None] = {}
    for update_id, payload in updates:
        first.setdefault(update_id, payload)
    if not first:
        return set()
    at = now or utcnow()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # one statement of one text, whatever the batch's size
        params = {
            "channel": channel,
            "at": at,
            "update_id": list(first),
            "payload": [None if p is None else json.dumps(p) for p in first.values()],
            "kept": [p is None for p in first.values()],
        }
        return {str(u) for (u,) in session.connection().execute(_insert_arrays(), params)}
    rows = [
        {
            "channel": channel,
            "update_id": update_id,
            "payload": None if payload is None else json.dumps(payload),
            "at": at,
            "handled_at": at if payload is None else None,
        }
        for update_id, payload in first.items()
    ]
    stmt = _insert_new(dialect)
    return {str(u) for (u,) in session.connection().execute(stmt, rows)}


@cache
def _insert_new(dialect: str) -> Executable:
    """Built once per dialect: the webhook's writer runs it for every batch."""
    inbox = table(ProcessedUpdate)
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return make(inbox).on_conflict_do_nothing().returning(inbox.c.update_id)


@cache
def _insert_arrays() -> Executable:
    """PostgreSQL's insert of a batch passed as arrays (``unnest``): the same SQL text for
    every batch, so psycopg converts it once and the server can prepare it. Rows as VALUES
    lists (``_insert_new``) made a new text for each batch size; converting those texts took
    about a sixth of the writer thread's CPU under a burst of status webhooks (issue 13)."""
    inbox = table(ProcessedUpdate)
    at = bindparam("at", type_=UTCDateTime)
    rows = unnested({"update_id": String(), "payload": Text(), "kept": Boolean()})
    chosen = select(
        bindparam("channel", type_=String),
        rows.c.update_id,
        rows.c.payload,
        at,
        case((rows.c.kept, at)),
    )
    return (
        postgresql.insert(inbox)
        .from_select(["channel", "update_id", "payload", "at", "handled_at"], chosen)
        .on_conflict_do_nothing()
        .returning(inbox.c.update_id)
    )


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
