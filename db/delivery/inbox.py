"""The webhook inbox: an update is stored (once) before the webhook answers 200."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Executable,
    Row,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import Session

from db.delivery.arrays import unnested
from db.models import ProcessedUpdate, table
from db.types import UTCDateTime, utcnow

Updates = Sequence[tuple[str, dict[str, Any] | None]]


def store_updates(
    session: Session, channel: str, updates: Updates, *, now: datetime | None = None
) -> set[str]:
    """Store each (update_id, payload) not stored before; returns the ids that were new.

    A payload of None means the caller handles the update in this same transaction: the row
    is stored already handled, only to recognise a redelivery. Racing writers of one id are
    settled by the primary key (``ON CONFLICT DO NOTHING``), so exactly one sees it as new.
    """
    first = _first(updates)
    if not first:
        return set()
    at = now or utcnow()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # one statement of one text, whatever the batch's size
        params = _array_params(channel, at, first)
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


def store_updates_and_read(
    session: Session,
    channel: str,
    updates: Updates,
    read: Select[Any],
    params: dict[str, Any],
    *,
    now: datetime | None = None,
) -> tuple[set[str], list[Row[Any]]]:
    """PostgreSQL only: ``store_updates`` and the query ``read`` (with its ``params``) in one
    statement, so one round trip to the server: the ids that were new and ``read``'s rows.

    ``read`` runs in the same transaction, after the insert has claimed the ids (the insert is
    the statement's first part): the status webhooks' writer reads and locks the batch's
    deliveries this way. Each round trip of a batch cost the writer's thread about 1.6 ms
    under a burst (the answer, then the GIL back from the event loop), a quarter of a batch's
    statements (issue 13).
    """
    first = _first(updates)
    if not first:
        return set(), list(session.connection().execute(read, params))
    values = _array_params(channel, now or utcnow(), first) | params
    new: set[str] = set()
    rows: list[Row[Any]] = []
    for row in session.connection().execute(_insert_and_read(read), values):
        if row[0] is None:
            rows.append(row)
        else:
            new.add(str(row[0]))
    return new, rows


def _first(updates: Updates) -> dict[str, dict[str, Any] | None]:
    """Each update id once, with its first payload: a second copy in a batch is a redelivery."""
    first: dict[str, dict[str, Any] | None] = {}
    for update_id, payload in updates:
        first.setdefault(update_id, payload)
    return first


def _array_params(
    channel: str, at: datetime, first: dict[str, dict[str, Any] | None]
) -> dict[str, Any]:
    """``_insert_arrays``'s parameters: one array per column."""
    return {
        "inbox_channel": channel,
        "inbox_at": at,
        "update_id": list(first),
        "payload": [None if p is None else json.dumps(p) for p in first.values()],
        "kept": [p is None for p in first.values()],
    }


@cache
def _insert_and_read(read: Select[Any]) -> Executable:
    """``_insert_arrays`` and ``read`` as one statement: the new ids first (their rows carry
    the id, the other columns NULL), then ``read``'s rows (id NULL). Built once per ``read``.
    The insert is read first, so it runs (and claims the ids) before ``read`` does."""
    new = _insert_arrays().cte("new_update")
    rows = read.cte("read_row")
    names = list(rows.c.keys())
    blank = [cast(null(), rows.c[n].type).label(n) for n in names]
    return union_all(
        select(new.c.update_id.label("new_update_id"), *blank),
        select(cast(null(), String).label("new_update_id"), *(rows.c[n] for n in names)),
    )


@cache
def _insert_new(dialect: str) -> Executable:
    """Built once per dialect: the webhook's writer runs it for every batch."""
    inbox = table(ProcessedUpdate)
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return make(inbox).on_conflict_do_nothing().returning(inbox.c.update_id)


@cache
def _insert_arrays() -> ReturningInsert[Any]:
    """PostgreSQL's insert of a batch passed as arrays (``unnest``): the same SQL text for
    every batch, so psycopg converts it once and the server can prepare it. Rows as VALUES
    lists (``_insert_new``) made a new text for each batch size; converting those texts took
    about a sixth of the writer thread's CPU under a burst of status webhooks (issue 13)."""
    inbox = table(ProcessedUpdate)
    # Names no column has: in a statement that also updates a table (``_insert_and_read``),
    # a parameter named like one of its columns would be taken as a value to SET.
    at = bindparam("inbox_at", type_=UTCDateTime)
    rows = unnested({"update_id": String(), "payload": Text(), "kept": Boolean()})
    chosen = select(
        bindparam("inbox_channel", type_=String),
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
