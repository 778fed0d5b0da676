"""The queue of sent messages whose buttons must be redrawn after a tap (``ButtonRefresh``).

A tap's transaction queues the redraw; senders claim rows under a lease, draw the buttons as
they are at claim time, and remove the row only if no tap came in since (same ``version``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.delivery.confirmed import confirmed_by_delivery
from db.models import ButtonRefresh, ChatIdentity, Delivery, Post, table
from db.types import utcnow


@dataclass(frozen=True)
class Redraw:
    delivery_id: int
    version: int
    chat_id: str | None  # None: the person erased their chat link; nothing to draw
    message_id: str | None
    url: str
    confirmed: frozenset[str]


def queue_redraw(
    session: Session, delivery_ids: Collection[int], *, now: datetime | None = None
) -> None:
    if not delivery_ids:
        return
    refresh = table(ButtonRefresh)
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = make(refresh)
    stmt = stmt.on_conflict_do_update(
        index_elements=[refresh.c.delivery_id],
        set_={"version": refresh.c.version + 1, "claimed_until": None},
    )
    at = now or utcnow()
    session.connection().execute(
        stmt, [{"delivery_id": d, "version": 1, "queued_at": at} for d in sorted(delivery_ids)]
    )


def _due(channel: str, now: datetime) -> Select[tuple[int]]:
    refresh, delivery = table(ButtonRefresh), table(Delivery)
    return (
        select(refresh.c.delivery_id)
        .join(delivery, delivery.c.id == refresh.c.delivery_id)
        .where(
            delivery.c.channel == channel,
            # A tap can beat the worker's record of the send: its message id comes with it.
            delivery.c.message_id.is_not(None),
            or_(refresh.c.claimed_until.is_(None), refresh.c.claimed_until < now),
        )
        .order_by(refresh.c.queued_at)
    )


def redraws_due(session: Session, channel: str, *, now: datetime | None = None) -> bool:
    """A read-only look, so that an idle sender polling for work takes no write lock."""
    stmt = _due(channel, now or utcnow()).limit(1)
    return session.connection().execute(stmt).first() is not None


def claim_redraws(
    session: Session,
    channel: str,
    *,
    limit: int = 50,
    lease: timedelta = timedelta(seconds=60),
    now: datetime | None = None,
) -> list[Redraw]:
    """Up to ``limit`` queued redraws for ``channel``, oldest first, leased to the caller."""
    now = now or utcnow()
    refresh, delivery, identity, post = (
        table(ButtonRefresh),
        table(Delivery),
        table(ChatIdentity),
        table(Post),
    )
    due = _due(channel, now).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=refresh, skip_locked=True)
    conn = session.connection()
    claimed = {
        int(d): int(v)
        for d, v in conn.execute(
            update(refresh)
            .where(refresh.c.delivery_id.in_(due.scalar_subquery()))
            .values(claimed_until=now + lease)
            .returning(refresh.c.delivery_id, refresh.c.version)
        )
    }
    if not claimed:
        return []
    kinds = confirmed_by_delivery(session, claimed)
    rows = conn.execute(
        select(delivery.c.id, identity.c.chat_id, delivery.c.message_id, post.c.url)
        .select_from(delivery)
        .join(post, post.c.id == delivery.c.post_id)
        .outerjoin(identity, identity.c.id == delivery.c.identity_id)
        .where(delivery.c.id.in_(list(claimed)))
        .order_by(delivery.c.id)
    )
    return [
        Redraw(int(d), claimed[int(d)], chat, message, url, frozenset(kinds[int(d)]))
        for d, chat, message, url in rows
    ]


def finish_redraws(session: Session, done: Sequence[Redraw]) -> None:
    """Drop the rows drawn; one tapped again since its claim stays queued."""
    if not done:
        return
    refresh = table(ButtonRefresh)
    session.connection().execute(
        delete(refresh).where(
            refresh.c.delivery_id == bindparam("d"), refresh.c.version == bindparam("v")
        ),
        [{"d": r.delivery_id, "v": r.version} for r in done],
    )


def queued_redraws(session: Session) -> int:
    return int(
        session.connection()
        .execute(select(func.count()).select_from(table(ButtonRefresh)))
        .scalar_one()
    )
