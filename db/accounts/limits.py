"""Per-person allowances kept in the database: how often someone may try a NIP, write to the
bot, or have their OPD's admins paged about them.

A limit in process memory would reset on every restart and be multiplied by the number of
workers; a guessing stranger would simply wait for a deploy. Each allowance is a fixed window
per (kind, subject): one row, spent by a single conditional UPDATE, so two processes spending
the last unit at once cannot both get it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.models import ChatAllowance, table


@dataclass(frozen=True)
class Limit:
    kind: str
    allowed: int
    per: timedelta


def subject_of(channel: str, external_id: str) -> str:
    return f"{channel}:{external_id}"


def spend(session: Session, limit: Limit, subject: str, *, now: datetime) -> bool:
    """Take one unit of ``limit`` for ``subject``; False when none is left in this window."""
    if limit.allowed <= 0:
        return False
    rows = table(ChatAllowance)
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    conn = session.connection()
    inserted = conn.execute(
        make(rows)
        .values(kind=limit.kind, subject=subject, window_start=now, used=1)
        .on_conflict_do_nothing()
        .returning(rows.c.used)
    ).first()
    if inserted is not None:
        return True
    expired = rows.c.window_start <= now - limit.per
    spent = conn.execute(
        update(rows)
        .where(
            rows.c.kind == limit.kind,
            rows.c.subject == subject,
            expired | (rows.c.used < limit.allowed),
        )
        .values(
            used=case((expired, 1), else_=rows.c.used + 1),
            window_start=case((expired, now), else_=rows.c.window_start),
        )
    )
    return spent.rowcount == 1


def forget(session: Session, subject: str) -> None:
    """Erasure takes the person's allowances with it (they name a chat account)."""
    rows = table(ChatAllowance)
    session.connection().execute(rows.delete().where(rows.c.subject == subject))
