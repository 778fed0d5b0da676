"""State the delivery workers share through the database: heartbeats and flood waits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from db.models import ChannelState, WorkerHeartbeat, table

LIVE_FOR = timedelta(seconds=10)


def heartbeat(session: Session, worker: str, *, now: datetime) -> int:
    """Record that ``worker`` is alive; return how many workers are."""
    beats = table(WorkerHeartbeat)
    conn = session.connection()
    updated = conn.execute(update(beats).where(beats.c.id == worker).values(seen_at=now))
    if updated.rowcount == 0:
        session.add(WorkerHeartbeat(id=worker, started_at=now, seen_at=now))
        session.flush()
    conn.execute(delete(beats).where(beats.c.seen_at < now - 6 * LIVE_FOR))
    return int(
        conn.execute(select(func.count()).where(beats.c.seen_at >= now - LIVE_FOR)).scalar_one()
    )


def retire(session: Session, worker: str) -> None:
    beats = table(WorkerHeartbeat)
    session.connection().execute(delete(beats).where(beats.c.id == worker))


def pause_channel(session: Session, channel: str, until: datetime, *, now: datetime) -> None:
    """Extend (never shorten) the channel's flood wait for every worker."""
    state = session.get(ChannelState, channel)
    if state is None:
        session.add(ChannelState(channel=channel, paused_until=until, updated_at=now))
    elif state.paused_until is None or state.paused_until < until:
        state.paused_until, state.updated_at = until, now
        session.add(state)
    session.flush()


def channel_pauses(session: Session) -> dict[str, datetime]:
    states = table(ChannelState)
    rows = session.connection().execute(
        select(states.c.channel, states.c.paused_until).where(states.c.paused_until.is_not(None))
    )
    return {channel: until for channel, until in rows}
