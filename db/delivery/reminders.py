"""Reminders: once, after a delay, to ASN who have not confirmed, never in quiet hours.

A reminder is claimed by stamping ``reminded_at`` before it is sent, so a crash can lose a
reminder but never send one twice: for a nudge, at most once is the kinder failure.

Caps (issue 15): at most one reminder per post per ASN (whatever the number of deliveries of
that post they have), and at most ``per_week`` reminders per ASN in any rolling seven days,
clarification reminders included. A reminder the weekly cap holds back is not stamped: it
goes out later if the person's week frees up before they confirm, and is never counted.
On PostgreSQL the ASN rows are locked before their week is counted, so two workers claiming
reminders for one person at once cannot both spend the last one; SQLite's write transactions
are serial anyway.

A delivery sent more than ``STALE_AFTER`` ago gets no reminder any more: a nudge about a
week-old post helps nobody, and without that bound the deliveries the cap held back would
pile up and be looked at again on every pass.

Every worker claims every round, so a claim must cost what the week's window holds, not what
the year does (issues 10 and 12: on 8.76 M deliveries it outlasted a 10-minute statement
timeout). It reads the rows still waiting for a reminder from the partial index
``ix_delivery_remind_due`` in ``sent_at`` order from the window's start, and counts a
person's reminders of the week from ``ix_delivery_reminded``, which holds only reminded rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, update
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

WEEK = timedelta(days=7)
STALE_AFTER = timedelta(days=7)


def in_quiet_hours(moment: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    local = moment.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # the window wraps past midnight


def claim_reminders(
    session: Session,
    *,
    now: datetime,
    delay: timedelta,
    limit: int,
    channels: list[str],
    clarification_delay: timedelta | None = None,
    per_week: int | None = None,
) -> list[Claimed]:
    """Claim the reminders due now: ``delay`` after the send (``clarification_delay`` for a
    clarification post), within the caps above."""
    delivery, post, identity = table(Delivery), table(Post), table(ChatIdentity)
    asn, confirmation = table(Asn), table(Confirmation)
    other = delivery.alias("other")
    confirmed = select(confirmation.c.id).where(confirmation.c.delivery_id == delivery.c.id)
    waited: ColumnElement[bool] = delivery.c.sent_at <= now - delay
    if clarification_delay is not None:
        waited = or_(
            waited,
            and_(
                post.c.clarification_at.is_not(None),
                delivery.c.sent_at <= now - clarification_delay,
            ),
        )
    reminded_of_post = select(other.c.id).where(
        other.c.post_id == delivery.c.post_id,
        other.c.asn_id == delivery.c.asn_id,
        other.c.reminded_at.is_not(None),
    )
    due = (
        select(delivery.c.id, delivery.c.asn_id)
        .join(post, post.c.id == delivery.c.post_id)
        .join(identity, identity.c.id == delivery.c.identity_id)
        .join(asn, asn.c.id == delivery.c.asn_id)
        .where(
            # Spelled as the partial index ``ix_delivery_remind_due`` is, the status inline:
            # a planner proves the index fits only from a constant, never from a parameter
            # (SQLite's always; PostgreSQL's once a prepared statement gets a generic plan).
            delivery.c.status == literal(DeliveryStatus.SENT.value, literal_execute=True),
            delivery.c.reminded_at.is_(None),
            delivery.c.sent_at > now - STALE_AFTER,
            waited,
            delivery.c.channel.in_(channels),
            post.c.status.in_([PostStatus.SENDING, PostStatus.SENT]),
            identity.c.reachable.is_(True),
            asn.c.active.is_(True),
            asn.c.opted_out_at.is_(None),
            ~confirmed.exists(),
            ~reminded_of_post.exists(),
        )
        .order_by(delivery.c.sent_at, delivery.c.id)
        .limit(limit)
    )
    if per_week is not None:
        due = due.where(_reminded_in_week(delivery.c.asn_id, now) < per_week)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        due = due.with_for_update(of=delivery, skip_locked=True)
    conn = session.connection()
    candidates = conn.execute(due).all()
    if not candidates:
        return []
    people = sorted({int(row.asn_id) for row in candidates})
    chosen: list[int] = []
    if per_week is None:
        chosen = [int(row.id) for row in candidates]
    else:
        if postgres:
            conn.execute(select(asn.c.id).where(asn.c.id.in_(people)).with_for_update())
        spent = Counter(
            {
                int(a): int(n)
                for a, n in conn.execute(
                    select(other.c.asn_id, func.count())
                    .where(other.c.asn_id.in_(people), other.c.reminded_at > now - WEEK)
                    .group_by(other.c.asn_id)
                )
            }
        )
        for row in candidates:
            if spent[int(row.asn_id)] < per_week:
                spent[int(row.asn_id)] += 1
                chosen.append(int(row.id))
    if not chosen:
        return []
    ids = [
        row[0]
        for row in conn.execute(
            update(delivery)
            .where(delivery.c.id.in_(chosen), delivery.c.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(delivery.c.id)
        )
    ]
    if not ids:
        return []
    return load_claimed(session, ids)


def _reminded_in_week(asn_id: ColumnElement[int], now: datetime) -> ColumnElement[int]:
    """How many reminders the ASN was sent in the seven days before ``now``."""
    other = table(Delivery).alias("week")
    return (
        select(func.count())
        .where(other.c.asn_id == asn_id, other.c.reminded_at > now - WEEK)
        .scalar_subquery()
    )
