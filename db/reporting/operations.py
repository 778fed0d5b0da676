"""What monitoring reads from the database (``GET /metrics``): queues, lag, flood waits.

These are facts every process shares through the database, so one scrape of any ``gaung
serve`` sees the work of all workers. Latency, which only the process that served a request
knows, is measured in ``api.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from db.delivery.coordination import LIVE_FOR
from db.models import (
    ChannelState,
    Confirmation,
    Delivery,
    DeliveryStatus,
    ProcessedUpdate,
    WorkerHeartbeat,
    table,
)


@dataclass(frozen=True)
class Operations:
    deliveries: dict[tuple[str, str], int]  # (channel, status) → deliveries
    due: dict[str, int]  # channel → pending deliveries due now: the send queue's depth
    taps: dict[str, int]  # like/share → confirmations recorded
    inbox_unhandled: dict[str, int]  # channel → updates stored but not handled yet
    inbox_lag: dict[str, float]  # channel → seconds the oldest of them has waited
    flood_wait: dict[str, float]  # channel → seconds left of a flood wait (429)
    workers: int  # delivery workers that beat their heartbeat recently


def operations(session: Session, *, now: datetime) -> Operations:
    conn = session.connection()
    delivery, confirmation = table(Delivery), table(Confirmation)
    inbox, beats, states = table(ProcessedUpdate), table(WorkerHeartbeat), table(ChannelState)
    deliveries = {
        (channel, status): count
        for channel, status, count in conn.execute(
            select(delivery.c.channel, delivery.c.status, func.count()).group_by(
                delivery.c.channel, delivery.c.status
            )
        )
    }
    due = {
        channel: count
        for channel, count in conn.execute(
            select(delivery.c.channel, func.count())
            .where(
                delivery.c.status == DeliveryStatus.PENDING,
                (delivery.c.next_attempt_at.is_(None)) | (delivery.c.next_attempt_at <= now),
            )
            .group_by(delivery.c.channel)
        )
    }
    taps = {
        kind: count
        for kind, count in conn.execute(
            select(confirmation.c.kind, func.count()).group_by(confirmation.c.kind)
        )
    }
    unhandled: dict[str, int] = {}
    lag: dict[str, float] = {}
    for channel, count, oldest in conn.execute(
        select(inbox.c.channel, func.count(), func.min(inbox.c.at))
        .where(inbox.c.handled_at.is_(None))
        .group_by(inbox.c.channel)
    ):
        unhandled[channel] = count
        lag[channel] = max(0.0, (now - _aware(oldest, now)).total_seconds()) if oldest else 0.0
    flood = {
        channel: max(0.0, (_aware(until, now) - now).total_seconds())
        for channel, until in conn.execute(
            select(states.c.channel, states.c.paused_until).where(
                states.c.paused_until.is_not(None)
            )
        )
    }
    workers = conn.execute(
        select(func.count()).where(beats.c.seen_at >= now - LIVE_FOR)
    ).scalar_one()
    return Operations(deliveries, due, taps, unhandled, lag, flood, int(workers))


def _aware(moment: datetime, like: datetime) -> datetime:
    """SQLite gives naive UTC back; compare like with like."""
    if moment.tzinfo is None and like.tzinfo is not None:
        return moment.replace(tzinfo=like.tzinfo)
    return moment
