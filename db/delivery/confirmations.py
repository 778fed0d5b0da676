"""Self-reported confirmations. Each kind at most once per delivery; later taps change nothing.

Taps come one at a time from long polling and in batches from the webhook's inbox writer
(``record_taps``): one transaction for many taps is what lets a webhook keep up with a
thousand taps a second. Both lock the deliveries they touch (PostgreSQL; SQLite's write
transactions are serial anyway), so a like and a share tapped at once cannot both count as the
ASN's first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, or_, select, update
from sqlmodel import Session

from db.delivery.confirmed import confirmed_by_delivery
from db.delivery.counters import Key, bump
from db.delivery.evidence import await_evidence
from db.delivery.redraws import queue_redraw
from db.errors import Invalid
from db.models import (
    ChatIdentity,
    Confirmation,
    ConfirmationKind,
    Delivery,
    DeliveryStatus,
    Post,
    PostStatus,
    table,
)
from db.types import utcnow

KINDS = frozenset(k.value for k in ConfirmationKind)
# ``last_inbound_at`` opens a messaging window measured in hours; rewriting it on every tap of
# a burst would only add writes.
INBOUND_PRECISION = timedelta(minutes=1)


class TapOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"  # this kind was confirmed before: nothing changes
    REFUSED = "refused"  # not the recipient's, not sent, unknown delivery
    CANCELLED = "cancelled"  # the post was withdrawn


@dataclass(frozen=True)
class Tap:
    delivery_id: int
    kind: str  # "like" | "share"
    user: str  # the tapper's account id on the channel


@dataclass(frozen=True)
class TapResult:
    outcome: TapOutcome
    kind: str
    confirmed: frozenset[str]  # the delivery's confirmed kinds once the batch is recorded


# A message exists once the channel accepted it, which the worker records a moment later
# (``sending`` until then): a tap can arrive in between.
TAPPABLE = (DeliveryStatus.SENT, DeliveryStatus.SENDING)


def _locked(dialect: str, stmt: Select[Any]) -> Select[Any]:
    if dialect == "postgresql":
        return stmt.with_for_update(of=table(Delivery))
    return stmt


@cache
def _tapped(dialect: str) -> Select[Any]:
    """The tapped deliveries with what a tap is checked against, locked; built
    once per dialect, as under a burst building it cost about what running it did."""
    delivery, post, identity = table(Delivery), table(Post), table(ChatIdentity)
    stmt = (
        select(
            delivery.c.id,
            delivery.c.post_id,
            delivery.c.opd_id,
            delivery.c.status,
            delivery.c.identity_id,
            identity.c.channel,
            identity.c.external_id,
            post.c.status.label("post_status"),
        )
        .select_from(delivery)
        .join(post, post.c.id == delivery.c.post_id)
        .outerjoin(identity, identity.c.id == delivery.c.identity_id)
        .where(delivery.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(delivery.c.id)
    )
    return _locked(dialect, stmt)


def _insert(
    session: Session,
    new: Sequence[tuple[int, str]],
    counted: Mapping[int, Key],
    before: Mapping[int, Collection[str]],
    channel: str,
    now: datetime,
) -> None:
    """Insert ``new`` (delivery, kind) pairs and move the counters of those in ``counted``
    (sent deliveries, by their (post, opd)); ``before`` is what each had confirmed already."""
    if not new:
        return
    session.connection().execute(
        insert(table(Confirmation)),
        [{"delivery_id": d, "kind": k, "channel": channel, "created_at": now} for d, k in new],
    )
    deltas: dict[Key, Counter[str]] = {}
    firsts: set[int] = set()
    for delivery_id, kind in new:
        key = counted.get(delivery_id)
        if key is None:
            continue
        delta = deltas.setdefault(key, Counter())
        delta["liked" if kind == ConfirmationKind.LIKE else "shared"] += 1
        if not before[delivery_id] and delivery_id not in firsts:
            firsts.add(delivery_id)
            delta["participated"] += 1
    bump(session, deltas)


def confirm(session: Session, delivery: Delivery, kind: str, *, channel: str | None = None) -> bool:
    """Record one confirmation on ``delivery``; True when it is new, False for a repeat."""
    if kind not in KINDS:
        raise Invalid(f"jenis konfirmasi {kind!r} tidak dikenal")
    assert delivery.id is not None
    d = table(Delivery)
    session.flush()
    dialect = session.get_bind().dialect.name
    session.connection().execute(_locked(dialect, select(d.c.id).where(d.c.id == delivery.id)))
    before = confirmed_by_delivery(session, [delivery.id])
    if kind in before[delivery.id]:
        return False
    counted = (
        {delivery.id: (delivery.post_id, delivery.opd_id)}
        if delivery.status == DeliveryStatus.SENT
        else {}
    )
    _insert(session, [(delivery.id, kind)], counted, before, channel or delivery.channel, utcnow())
    return True


def record_taps(
    session: Session,
    channel: str,
    taps: Sequence[Tap],
    *,
    redraw: bool = False,
    now: datetime | None = None,
) -> list[TapResult]:
    """Record a batch of button taps from ``channel``; one result per tap, in order.

    A tap counts only from the account the delivery was sent to, on a delivery being or having
    been sent, of a post that is not cancelled. ``redraw`` queues the message's buttons to be
    redrawn (``db.delivery.redraws``) where the channel can edit a sent message.
    """
    if not taps:
        return []
    if any(tap.kind not in KINDS for tap in taps):
        raise Invalid("jenis konfirmasi tidak dikenal")
    now = now or utcnow()
    ids = sorted({tap.delivery_id for tap in taps})
    found = {
        int(row.id): row
        for row in session.connection().execute(
            _tapped(session.get_bind().dialect.name), {"ids": ids}
        )
    }
    before = confirmed_by_delivery(session, found)
    confirmed = {d: set(kinds) for d, kinds in before.items()}
    outcomes: list[TapOutcome] = []
    new: list[tuple[int, str]] = []
    inbound: set[int] = set()
    for tap in taps:
        row = found.get(tap.delivery_id)
        if row is None or row.channel != channel or row.external_id != tap.user:
            outcomes.append(TapOutcome.REFUSED)
        elif row.post_status == PostStatus.CANCELLED:
            outcomes.append(TapOutcome.CANCELLED)
        elif row.status not in TAPPABLE:
            outcomes.append(TapOutcome.REFUSED)
        else:
            inbound.add(int(row.identity_id))
            if tap.kind in confirmed[tap.delivery_id]:
                outcomes.append(TapOutcome.ALREADY)
            else:
                confirmed[tap.delivery_id].add(tap.kind)
                new.append((tap.delivery_id, tap.kind))
                outcomes.append(TapOutcome.RECORDED)
    # A tap on a message whose send the worker has not recorded yet is the person's all the
    # same; it counts when the send is recorded (``db.delivery.outbox``), like the delivery.
    counted = {
        d: (int(found[d].post_id), int(found[d].opd_id))
        for d, _ in new
        if found[d].status == DeliveryStatus.SENT
    }
    _insert(session, new, counted, before, channel, now)
    _mark_inbound(session, inbound, now)
    # Issue 15: a new Share makes the person's next link its evidence (``db.delivery.evidence``).
    shares = [(d, str(found[d].external_id)) for d, k in new if k == ConfirmationKind.SHARE]
    await_evidence(session, channel, shares, now=now)
    if redraw:
        queue_redraw(session, {d for d, _ in new}, now=now)
    return [
        TapResult(outcome, tap.kind, frozenset(confirmed.get(tap.delivery_id, ())))
        for tap, outcome in zip(taps, outcomes, strict=True)
    ]


def _mark_inbound(session: Session, identity_ids: Iterable[int], now: datetime) -> None:
    """``db.accounts.identities.mark_inbound`` for many, skipping those marked a moment ago."""
    ids = sorted(identity_ids)
    if not ids:
        return
    identity = table(ChatIdentity)
    session.connection().execute(
        update(identity)
        .where(
            identity.c.id.in_(ids),
            or_(
                identity.c.reachable.is_(False),
                identity.c.last_inbound_at.is_(None),
                identity.c.last_inbound_at < now - INBOUND_PRECISION,
            ),
        )
        .values(reachable=True, unreachable_reason=None, unreachable_at=None, last_inbound_at=now)
    )
