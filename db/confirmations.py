"""Self-reported confirmations. Each kind at most once per delivery; later taps change nothing."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.errors import Invalid
from db.models import Confirmation, ConfirmationKind, Delivery, DeliveryStatus
from db.stats import bump


def confirm(session: Session, delivery: Delivery, kind: str, *, channel: str | None = None) -> bool:
    """Record the tap; True when it is new. A repeated or concurrent tap returns False.

    The unique (delivery, kind) constraint is the arbiter, inside a savepoint so that a lost
    race does not spoil the caller's transaction.
    """
    if kind not in (ConfirmationKind.LIKE, ConfirmationKind.SHARE):
        raise Invalid(f"jenis konfirmasi {kind!r} tidak dikenal")
    # Lock the delivery: a like and a share tapped at once must not both count as "first".
    session.exec(select(Delivery.id).where(Delivery.id == delivery.id).with_for_update()).first()
    exists = session.exec(
        select(Confirmation.id).where(
            Confirmation.delivery_id == delivery.id, Confirmation.kind == kind
        )
    ).first()
    if exists is not None:
        return False
    try:
        assert delivery.id is not None
        with session.begin_nested():
            channel = channel or delivery.channel
            session.add(Confirmation(delivery_id=delivery.id, kind=kind, channel=channel))
    except IntegrityError:
        return False
    if delivery.status == DeliveryStatus.SENT:
        first = len(confirmed_kinds(session, delivery.id)) == 1
        delta = {
            "liked" if kind == ConfirmationKind.LIKE else "shared": 1,
            "participated": int(first),
        }
        bump(session, {(delivery.post_id, delivery.opd_id): delta})
    return True


def confirmed_kinds(session: Session, delivery_id: int) -> set[str]:
    return set(
        session.exec(select(Confirmation.kind).where(Confirmation.delivery_id == delivery_id))
    )
