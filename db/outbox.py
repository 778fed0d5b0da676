"""The delivery outbox: one row per post × ASN, written when a post is approved.

Materialising every delivery in the approving transaction is what makes a broadcast durable:
from then on, workers only move rows from ``pending`` to ``sent`` or ``failed``, and a crash
leaves every unsent row where it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, case, insert, literal, select, update
from sqlmodel import Session

from db.models import Asn, Channel, ChatIdentity, Delivery, DeliveryStatus, Post, table
from db.types import utcnow

# When an ASN can be reached on both channels, one message goes out, on the preferred one.
CHANNEL_PREFERENCE = (Channel.TELEGRAM, Channel.WHATSAPP)


def reachable_identity_subquery() -> ScalarSelect[Any]:
    """The chosen identity per ASN: reachable, in order of channel preference."""
    asn, identity = table(Asn), table(ChatIdentity)
    rank = case(
        {ch.value: i for i, ch in enumerate(CHANNEL_PREFERENCE)},
        value=identity.c.channel,
        else_=len(CHANNEL_PREFERENCE),
    )
    return (
        select(identity.c.id)
        .where(identity.c.asn_id == asn.c.id, identity.c.reachable.is_(True))
        .order_by(rank, identity.c.id)
        .limit(1)
        .correlate(asn)
        .scalar_subquery()
    )


def materialise_deliveries(
    session: Session,
    post: Post,
    opd_ids: Sequence[int] | None,
    *,
    due: datetime,
    now: datetime,
) -> int:
    """Queue the post for every active, reachable, not opted-out ASN of the target OPDs."""
    asn, identity, delivery = table(Asn), table(ChatIdentity), table(Delivery)
    source = (
        select(
            literal(post.id),
            asn.c.id,
            asn.c.opd_id,
            identity.c.id,
            identity.c.channel,
            literal(DeliveryStatus.PENDING.value),
            literal(0),
            literal(due, type_=delivery.c.next_attempt_at.type),
            literal(now, type_=delivery.c.created_at.type),
        )
        .select_from(asn)
        .join(identity, identity.c.id == reachable_identity_subquery())
        .where(asn.c.active.is_(True), asn.c.opted_out_at.is_(None))
    )
    if opd_ids:
        source = source.where(asn.c.opd_id.in_(opd_ids))
    columns = ["post_id", "asn_id", "opd_id", "identity_id", "channel"]
    columns += ["status", "attempts", "next_attempt_at", "created_at"]
    stmt = insert(delivery).from_select(columns, source)
    session.flush()
    # SQLAlchemy only promises a rowcount for UPDATE/DELETE unless asked to keep it.
    result = session.connection().execute(stmt.execution_options(preserve_rowcount=True))
    return int(result.rowcount)


def cancel_pending(session: Session, post_id: int) -> int:
    """Unsent deliveries of a cancelled post fail with the reason kept.

    Rows already claimed by a worker are left to finish: their message may be on the wire, and
    recording it as sent is the truth.
    """
    delivery = table(Delivery)
    result = session.exec(
        update(delivery)
        .where(delivery.c.post_id == post_id, delivery.c.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.FAILED, error="postingan dibatalkan", failed_at=utcnow())
    )
    return int(result.rowcount or 0)


def mark_sent(
    session: Session, delivery: Delivery, message_id: str | None, *, now: datetime | None = None
) -> None:
    delivery.status = DeliveryStatus.SENT
    delivery.message_id = message_id
    delivery.sent_at = now or utcnow()
    delivery.lease_owner = delivery.lease_until = None
    delivery.error = None
    session.add(delivery)
    session.flush()


def mark_failed(
    session: Session, delivery: Delivery, error: str, *, now: datetime | None = None
) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.failed_at = now or utcnow()
    delivery.lease_owner = delivery.lease_until = None
    delivery.error = error[:500]
    session.add(delivery)
    session.flush()
