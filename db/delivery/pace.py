"""One send budget per bot, shared by every process through the database, learned from 429s.

Telegram answers "about 30 messages per second" and does not say how it counts (a token bucket,
a sliding window, fixed windows). So the configured rate is a *ceiling*: the pace aims a little
below it (``CAP``), and a 429 cuts it (multiplicative decrease, ``CUT``) and pauses every
sender for ``retry_after``; it then climbs back slowly (additive increase, ``CLIMB``), and
slower still near the rate that failed, where the limit evidently is.

Every sender of one bot (``gaung serve``, ``gaung bot``, each ``gaung worker``,
``gaung broadcast --wait``) reserves its send slots from one ledger: the ``channel_state`` row
of the channel. A reservation is a handful of evenly spaced moments starting at the ledger's
``next_slot_at``, so processes interleave instead of each sending at the full rate. The pure
arithmetic (``PaceState``) also serves a process alone (``bot.ratelimit.LocalLedger``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from db.models import ChannelState, ChatPace, table

CAP = 0.96  # aim at most this fraction of the ceiling: jitter must not push a window over
# Channels whose evidence allows aiming closer to the ceiling than ``CAP`` (``cap_for``):
# the fraction, for ceilings below a rate (where the sender's own jitter is smallest).
CHANNEL_CAPS = {"whatsapp": (0.975, 200.0)}
CUT = 0.9  # after a 429, this fraction of the rate that failed
FLOOR = 0.2  # never below this fraction of the ceiling
CLIMB = 0.02  # additive increase: this fraction of the ceiling per second without a 429
NEAR = 0.97  # within this fraction of the rate that failed, climb ...
SLOW = 0.02  # ... this much slower: stay just below where the limit showed itself
HORIZON = 1.0  # never reserve slots further ahead than this (seconds)
# Replies before broadcasts, across processes (``PaceState.reserve_bulk``):
URGENT_MEMORY = 2.0  # s: how long a reply's slot counts as "replies lately" (decay)
REPLIES_LATELY = 0.1  # reply slots per second (decayed) from which broadcasts make way
BULK_AHEAD = 0.2  # s: with replies lately, broadcasts fill the cursor at most this far ahead
BULK_LEAST = 0.1  # broadcasts keep at least this fraction of the pace, however many replies
BULK_BATCH = 0.25  # s: a broadcast reservation without replies lately


@dataclass(frozen=True)
class Grant:
    """Slots handed to one process: ``count`` sends, the first ``delay`` s from now."""

    delay: float
    interval: float
    count: int
    pause: float  # seconds of flood or outage wait still to run (0: none)
    rate: float
    # The first slot on the ledger's clock (epoch seconds for the database): a process maps it
    # onto its own clock when the answer arrives, so the round trip does not push it later.
    start: float = 0.0


@dataclass
class PaceState:
    """A channel's pace, times in seconds (epoch seconds in the database)."""

    rate: float | None = None
    failed_rate: float | None = None
    next_slot: float = 0.0
    paused_until: float = 0.0
    changed_at: float = 0.0
    urgent_rate: float = 0.0  # reply slots per second lately (decays: ``urgent``)
    urgent_at: float = 0.0
    bulk_next: float = 0.0  # the next broadcast slots start no sooner
    ceiling: float | None = None  # the configured rate ``rate`` was learned under
    cap: float = CAP  # the fraction of the ceiling aimed at (``cap_for`` the channel)

    def adopt(self, ceiling: float) -> None:
        """Carry what was learned over to a new ceiling, as the same fraction of it.

        A rate learned under 80/s stayed 76.8/s when the number was upgraded to 1,000/s and
        then climbed ``CLIMB`` × 1,000 per second: a post of 8,000 took 20 s instead of 9.
        Nothing was learned about the new limit, so the pace starts where the old one stood
        relative to its ceiling (at the cap, or as far below it as a 429 had pushed it).
        """
        if self.ceiling is not None and self.ceiling != ceiling and self.ceiling > 0:
            scale = ceiling / self.ceiling
            self.rate = self.rate * scale if self.rate is not None else None
            self.failed_rate = self.failed_rate * scale if self.failed_rate is not None else None
        self.ceiling = ceiling

    def climb(self, ceiling: float, now: float) -> float:
        self.adopt(ceiling)
        cap = ceiling * self.cap
        if self.rate is None:
            self.rate, self.changed_at = cap, now
        elif now < self.paused_until:
            self.changed_at = max(self.changed_at, now)
        else:
            elapsed = min(10.0, max(0.0, now - self.changed_at))
            step = CLIMB * ceiling * elapsed
            if self.failed_rate is not None and self.rate >= NEAR * self.failed_rate:
                step *= SLOW
            self.rate = min(cap, self.rate + step)
            if self.failed_rate is not None and self.rate > self.failed_rate:
                self.failed_rate = None  # the limit moved: forget where it was
            self.changed_at = now
        self.rate = max(FLOOR * ceiling, min(cap, self.rate))
        return self.rate

    def reserve(self, want: int, ceiling: float, now: float, after: float = 0.0) -> Grant:
        """``after``: the asking process's own slots already run this far ahead of ``now``
        (it came late for some and moved them on); the new ones start no sooner."""
        rate = self.climb(ceiling, now)
        interval = 1.0 / rate
        start = max(now + max(0.0, after), self.next_slot, self.paused_until)
        pause = max(0.0, self.paused_until - now)
        if start - now > HORIZON or want <= 0:
            return Grant(start - now, interval, 0, pause, rate, start)
        self.next_slot = start + want * interval
        return Grant(start - now, interval, want, pause, rate, start)

    def urgent(self, now: float) -> float:
        """Reply slots per second lately: an average over the last ``URGENT_MEMORY`` s."""
        return self.urgent_rate * math.exp(-max(0.0, now - self.urgent_at) / URGENT_MEMORY)

    def reserve_urgent(self, want: int, ceiling: float, now: float, after: float = 0.0) -> Grant:
        """Slots for replies (someone just wrote): the next free ones, and they count against
        the broadcasts' share for a while (``reserve_bulk``)."""
        grant = self.reserve(want, ceiling, now, after)
        self.urgent_rate = self.urgent(now) + grant.count / URGENT_MEMORY
        self.urgent_at = now
        return grant

    def reserve_bulk(self, want: int, ceiling: float, now: float, after: float = 0.0) -> Grant:
        """Slots for broadcasts and redraws: every slot the replies do not take.

        One cursor (``next_slot``) orders every slot of the bot, and a reply takes the next
        free one. While people are writing (replies lately), a broadcast keeps the cursor at
        most ``BULK_AHEAD`` s ahead of now, asking again once it is half that: a reply then
        waits at most that long behind broadcast slots, and no slot the replies leave goes
        unused. (An earlier rule gave the broadcasts a *share*, the pace less the replies'
        recent rate, and spaced their reservations by it: replies arriving unevenly left
        slots empty when fewer came and pushed the broadcast on when more came, so it got
        0.47 × of what the replies left beside ``gaung serve``.) If replies alone keep the
        cursor ahead, a broadcast still gets ``BULK_LEAST`` of the pace (``bulk_next``).
        Without replies a broadcast reserves ``BULK_BATCH`` s at a time, as far as
        ``HORIZON``: fewer round trips to the ledger.
        """
        rate = self.climb(ceiling, now)
        take = round(rate * BULK_BATCH)
        if self.urgent(now) >= REPLIES_LATELY:
            begin = max(now + max(0.0, after), self.next_slot, self.paused_until)
            room = BULK_AHEAD - (begin - now)
            refill = BULK_AHEAD / 2
            if room >= refill - 1e-6:
                take = math.floor(room * rate)
            elif now >= self.bulk_next - 1e-3:  # the least the broadcasts keep, come what may
                take = round(BULK_LEAST * rate * refill)
            else:
                wait = min(begin - now - refill, self.bulk_next - now)
                return Grant(
                    wait, 1.0 / rate, 0, max(0.0, self.paused_until - now), rate, now + wait
                )
        grant = self.reserve(min(want, max(1, take)), ceiling, now, after)
        if grant.count:
            self.bulk_next = now + grant.count / (BULK_LEAST * rate)
        return grant

    def rate_limited(self, retry_after: float, ceiling: float, now: float) -> None:
        """A 429: everyone waits; the first 429 of a wait (not its echoes) cuts the rate."""
        self.adopt(ceiling)
        if now >= self.paused_until:
            failed = self.rate if self.rate is not None else ceiling * self.cap
            self.failed_rate = failed
            self.rate = max(FLOOR * ceiling, failed * CUT)
        self.paused_until = max(self.paused_until, now + retry_after)
        self.changed_at = self.paused_until

    def pause(self, seconds: float, now: float) -> None:
        """An outage or a misconfiguration: wait, without touching the rate."""
        self.paused_until = max(self.paused_until, now + seconds)


def cap_for(channel: str, ceiling: float) -> float:
    """The fraction of the channel's ceiling its pace aims at.

    WhatsApp (issue 13): Meta publishes 80 messages/s per number and not the limiter's shape,
    like Telegram. At 97.5 % (78/s) the sends of any 1-s window, sliding or fixed, number at
    most 78 × (1 + late) + 1, ``late`` being how late a send may land (the pacer's 10 ms below
    200/s, ``bot.ratelimit.late_tolerance``, plus the network's jitter): under 81 while late
    stays under 25 ms; a token bucket takes it with any jitter. From 200/s the pacer's
    tolerance doubles to 20 ms, which would leave the network 5 ms: ``CAP`` there. Each shape
    is held to it in ``tests/bot/whatsapp/test_pace_shapes.py``. At 96 % the 8,000-ASN
    broadcast could not take less than 104.2 s of its 105 s, leaving 0.8 s for the
    approval's own commit, the first send and the last write.
    """
    cap, below = CHANNEL_CAPS.get(channel, (CAP, 0.0))
    return cap if ceiling < below else CAP


# --- the shared ledger -----------------------------------------------------------------------


def _ts(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def _dt(seconds: float) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def _locked(session: Session, channel: str, now: datetime) -> tuple[Table, PaceState]:
    """The channel's row, created if missing and locked until the transaction ends.

    (On SQLite the write transaction began ``IMMEDIATE`` already holds the database's lock.)
    """
    states = table(ChannelState)
    conn = session.connection()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    conn.execute(insert(states).values(channel=channel, updated_at=now).on_conflict_do_nothing())
    query = select(
        states.c.rate,
        states.c.failed_rate,
        states.c.next_slot_at,
        states.c.paused_until,
        states.c.rate_changed_at,
        states.c.urgent_rate,
        states.c.urgent_at,
        states.c.bulk_next_at,
        states.c.ceiling,
    ).where(states.c.channel == channel)
    if dialect == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return states, PaceState(
        rate=row.rate,
        failed_rate=row.failed_rate,
        next_slot=_ts(row.next_slot_at),
        paused_until=_ts(row.paused_until),
        changed_at=_ts(row.rate_changed_at),
        urgent_rate=row.urgent_rate or 0.0,
        urgent_at=_ts(row.urgent_at),
        bulk_next=_ts(row.bulk_next_at),
        ceiling=row.ceiling,
    )


def _store(session: Session, states: Table, channel: str, state: PaceState, now: datetime) -> None:
    session.connection().execute(
        update(states)
        .where(states.c.channel == channel)
        .values(
            rate=state.rate,
            failed_rate=state.failed_rate,
            next_slot_at=_dt(state.next_slot),
            paused_until=_dt(state.paused_until),
            rate_changed_at=_dt(state.changed_at),
            urgent_rate=state.urgent_rate,
            urgent_at=_dt(state.urgent_at),
            bulk_next_at=_dt(state.bulk_next),
            ceiling=state.ceiling,
            updated_at=now,
        )
    )


def reserve_slots(
    session: Session,
    channel: str,
    *,
    want: int,
    ceiling: float,
    now: datetime,
    after: float = 0.0,
    urgent: bool = False,
) -> Grant:
    """Take ``want`` send slots of the channel's one budget for this process (none sooner than
    ``after`` seconds from now: see ``PaceState.reserve``); ``urgent``: for replies, which go
    before broadcasts and redraws (``PaceState.reserve_bulk``)."""
    states, state = _locked(session, channel, now)
    state.cap = cap_for(channel, ceiling)
    take = state.reserve_urgent if urgent else state.reserve_bulk
    grant = take(want, ceiling, now.timestamp(), after)
    _store(session, states, channel, state, now)
    return grant


def record_rate_limited(
    session: Session, channel: str, *, retry_after: float, ceiling: float, now: datetime
) -> None:
    """A 429 seen by any process pauses and slows every process of the bot."""
    states, state = _locked(session, channel, now)
    state.cap = cap_for(channel, ceiling)
    state.rate_limited(retry_after, ceiling, now.timestamp())
    _store(session, states, channel, state, now)


def record_pause(session: Session, channel: str, *, seconds: float, now: datetime) -> None:
    """An outage (or a bad token) pauses every process; the rate stays as learned."""
    states, state = _locked(session, channel, now)
    state.pause(seconds, now.timestamp())
    _store(session, states, channel, state, now)


def reserve_chat_slot(
    session: Session, channel: str, chat_id: str, *, interval: float, now: datetime
) -> float:
    """Take the chat's next send moment, shared by every process; seconds to wait for it.

    Two processes answering one person (``gaung serve`` and ``gaung bot``, two replicas) each
    spaced their own sends only; here they take turns, ``interval`` apart.
    """
    paces = table(ChatPace)
    conn = session.connection()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    conn.execute(
        insert(paces).values(channel=channel, chat_id=chat_id, next_at=now).on_conflict_do_nothing()
    )
    query = select(paces.c.next_at).where(paces.c.channel == channel, paces.c.chat_id == chat_id)
    if dialect == "postgresql":
        query = query.with_for_update()
    taken: datetime = conn.execute(query).scalar_one()
    start = max(now, taken)
    conn.execute(
        update(paces)
        .where(paces.c.channel == channel, paces.c.chat_id == chat_id)
        .values(next_at=start + timedelta(seconds=interval))
    )
    return (start - now).total_seconds()


def reserve_chat_slots(
    session: Session, channel: str, chat_ids: list[str], *, interval: float, now: datetime
) -> list[float]:
    """``reserve_chat_slot`` for many chats in three statements: the seconds each waits, in
    order (a chat named twice gets two turns). The button redrawer takes its batch's turns
    so, in the transaction that claims the batch, instead of a transaction per edit."""
    if not chat_ids:
        return []
    paces = table(ChatPace)
    conn = session.connection()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    chats = sorted(set(chat_ids))  # one order for every process: no deadlock between them
    conn.execute(
        insert(paces).on_conflict_do_nothing(),
        [{"channel": channel, "chat_id": c, "next_at": now} for c in chats],
    )
    query = select(paces.c.chat_id, paces.c.next_at).where(
        paces.c.channel == channel, paces.c.chat_id.in_(chats)
    )
    if dialect == "postgresql":
        query = query.order_by(paces.c.chat_id).with_for_update()
    taken: dict[str, datetime] = {str(c): at for c, at in conn.execute(query)}
    waits = []
    for chat in chat_ids:
        start = max(now, taken[chat])
        taken[chat] = start + timedelta(seconds=interval)
        waits.append((start - now).total_seconds())
    conn.execute(
        update(paces)
        .where(paces.c.channel == channel, paces.c.chat_id == bindparam("chat"))
        .values(next_at=bindparam("at")),
        [{"chat": c, "at": taken[c]} for c in chats],
    )
    return waits


def current_pace(session: Session, channel: str) -> tuple[float | None, datetime | None]:
    """The learned rate and the pause, for reports (``None`` while nothing was learned)."""
    states = table(ChannelState)
    row = (
        session.connection()
        .execute(select(states.c.rate, states.c.paused_until).where(states.c.channel == channel))
        .first()
    )
    return (row.rate, row.paused_until) if row is not None else (None, None)
