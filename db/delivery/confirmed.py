"""What an ASN has confirmed on each delivery: the read side of confirmations.

The outbox (to draw a reminder's buttons), the redraw queue and the taps all ask it, so it sits
below them and imports none of them.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlmodel import Session

from db.models import Confirmation, table


def confirmed_by_delivery(session: Session, delivery_ids: Collection[int]) -> dict[int, set[str]]:
    """The kinds confirmed on each delivery (an empty set for one with none)."""
    confirmation = table(Confirmation)
    kinds: dict[int, set[str]] = {d: set() for d in delivery_ids}
    for delivery_id, kind in session.connection().execute(
        select(confirmation.c.delivery_id, confirmation.c.kind).where(
            confirmation.c.delivery_id.in_(list(delivery_ids))
        )
    ):
        kinds[int(delivery_id)].add(kind)
    return kinds


def confirmed_kinds(session: Session, delivery_id: int) -> set[str]:
    return confirmed_by_delivery(session, [delivery_id])[delivery_id]
