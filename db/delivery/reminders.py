"""Reminders: once, after a delay, to ASN who have not confirmed, never in quiet hours.

A reminder is claimed by stamping ``reminded_at`` before it is sent, so a crash can lose a
reminder but never send one twice: for a nudge, at most once is the kinder failure.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlmodel import Session

from db.delivery.outbox import Claimed, load_claimed
from db.models import (
    Asn,
    ChatIdentity,
    Confirmation,
    Delivery,
    DeliveryStatus,
    Post,
    PostStatus,
    table,
)


def in_quiet_hours(moment: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    local = moment.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # the window wraps past midnight


def claim_reminders(
    session: Session, *, now: datetime, delay: timedelta, limit: int, channels: list[str]
) -> list[Claimed]:
    delivery, post, identity = table(Delivery), table(Post), table(ChatIdentity)
    asn, confirmation = table(Asn), table(Confirmation)
    confirmed = select(confirmation.c.id).where(confirmation.c.delivery_id == delivery.c.id)
    due = (
        select(delivery.c.id)
        .join(post, post.c.id == delivery.c.post_id)
        .join(identity, identity.c.id == delivery.c.identity_id)
        .join(asn, asn.c.id == delivery.c.asn_id)
        .where(
            delivery.c.status == DeliveryStatus.SENT,
            delivery.c.reminded_at.is_(None),
            delivery.c.sent_at <= now - delay,
            delivery.c.channel.in_(channels),
            post.c.status.in_([PostStatus.SENDING, PostStatus.SENT]),
            identity.c.reachable.is_(True),
            asn.c.active.is_(True),
            asn.c.opted_out_at.is_(None),
            ~confirmed.exists(),
        )
        .order_by(delivery.c.sent_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=delivery, skip_locked=True)
    conn = session.connection()
    ids = [
        row[0]
        for row in conn.execute(
            update(delivery)
            .where(delivery.c.id.in_(due.scalar_subquery()))
            .values(reminded_at=now)
            .returning(delivery.c.id)
        )
    ]
    if not ids:
        return []
    return load_claimed(session, ids)
