"""Pacing every send of one bot: one budget across processes, priorities, per-chat spacing.

A ``Pacer`` hands out send slots to the coroutines of one process. The slots come from a
``Ledger``: the database (``SharedLedger``: every ``gaung`` process of the bot draws on the same
budget and sees the same flood wait) or memory (``LocalLedger``, a process alone, and tests).
The ledger's arithmetic (``db.delivery.pace``) aims below the configured ceiling and learns
from 429s.

Within a process the waiting sends are served by priority: a reply to someone who just wrote
goes before a broadcast message, which goes before a button redraw. Each chat gets at most one
message per ``per_chat_interval`` (Telegram: about 1/s per chat), and a chat waiting for its
turn never holds up the others.

Jitter: a slot is a moment in the bot's shared time, not a licence. A send uses its slot at
the earliest at that moment and at the latest ``late_tolerance`` after it. If this process wakes
later than that (a busy event loop, a loaded machine), squeezing the late sends in would put
more sends into one window than the limit allows, and moving all of this process's slots on by
the delay (as this module once did) moved them onto the slots the ledger had handed to other
processes meanwhile: two workers then sent at twice the rate for as long as the delay, and a
strict limit (30 in any second) answered 429 and a flood wait for the whole bot. So the slots
move on only within this process's own run (grants that no other process reserved between),
never past its end; what would pass it waits for the run to continue, or is let go when another
process's slots come next (``Pacer._late``). A lone process loses no more than the stall; two
never send closer than the pace allows. ``moved``, ``missed`` and ``late`` count what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Protocol

from sqlalchemy import Engine

from db.delivery.pace import (
    Grant,
    PaceState,
    record_pause,
    record_rate_limited,
    reserve_chat_slot,
    reserve_slots,
)
from db.engine import session_scope
from db.types import utcnow

log = logging.getLogger("gaung.pace")


def late_tolerance(interval: float) -> float:
    """How late a slot may still be used: half the spacing, between 10 and 20 ms; 20 ms from
    ``FAST_SPACING`` on.

    Sends then land within [slot, slot + tolerance]: in any window of W s at most
    ceil(rate × (W + tolerance)) of them (at 28.8/s: 30 in any second; at 960/s: 980), which
    leaves the rest of the ledger's margin below the ceiling (``db.delivery.pace.CAP``) for the
    network's own jitter. Less tolerance moves more slots on (or once dropped them) on a busy
    machine: about 6 % of them at 30/s with 2-ms-to-9-ms tolerance, load 8 on two cores; at
    1,000/s a worker's loop stalls for 10-20 ms whenever a claim of a few hundred sends
    arrives, and each stall past the tolerance pushed every later slot back. At 200/s and
    more 20 ms adds at most 2 % to any second, half the margin, as at 30/s.
    """
    if interval <= FAST_SPACING:
        return 0.02
    return min(0.02, max(0.01, interval / 2))


FAST_SPACING = 0.005  # s between slots: 200/s and faster
CLOCK_WOBBLE = 5e-5  # s: two reads of the ledger's clock against ours may differ this much


class Priority(IntEnum):
    REPLY = 0  # an answer to someone who just wrote, an admin notice
    BROADCAST = 1  # posts and reminders
    REDRAW = 2  # a keyboard showing what was confirmed: it can wait


class Ledger(Protocol):
    """Where a pacer's slots come from, and whom it tells about 429s and outages."""

    async def reserve(self, want: int, ceiling: float, *, urgent: bool = False) -> Grant:
        """``urgent``: the slots are for replies, which go before broadcasts and redraws of
        every process (``db.delivery.pace.PaceState.reserve_bulk``)."""
        ...

    def now(self) -> float:
        """The ledger's clock (``Grant.start`` is on it)."""
        ...

    async def reserve_chat(self, chat: str, interval: float) -> float:
        """Seconds until this process may send to ``chat`` (0 when only it sends there)."""
        ...

    def rate_limited(self, retry_after: float, ceiling: float) -> None: ...

    def pause(self, seconds: float) -> None: ...

    async def settle(self) -> None:
        """Wait until the reports made so far are recorded (tests, shutdown)."""
        ...


class LocalLedger:
    """The budget of one process alone (tests, tools): the same arithmetic, in memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.state = PaceState()
        self.clock = clock

    async def reserve(self, want: int, ceiling: float, *, urgent: bool = False) -> Grant:
        take = self.state.reserve_urgent if urgent else self.state.reserve_bulk
        return take(want, ceiling, self.clock())

    def now(self) -> float:
        return self.clock()

    async def reserve_chat(self, chat: str, interval: float) -> float:
        return 0.0  # alone: the pacer's own per-chat spacing is the whole truth

    def rate_limited(self, retry_after: float, ceiling: float) -> None:
        self.state.rate_limited(retry_after, ceiling, self.clock())

    def pause(self, seconds: float) -> None:
        self.state.pause(seconds, self.clock())

    async def settle(self) -> None:
        return None


class SharedLedger:
    """The bot's one budget in the database (``channel_state``), shared by every process."""

    def __init__(self, engine: Engine, channel: str, *, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.channel = channel
        self.clock = clock
        self._writes: set[asyncio.Task[None]] = set()

    async def reserve(self, want: int, ceiling: float, *, urgent: bool = False) -> Grant:
        return await asyncio.to_thread(self._reserve, want, ceiling, urgent)

    def now(self) -> float:
        return self.clock().timestamp()

    async def reserve_chat(self, chat: str, interval: float) -> float:
        return await asyncio.to_thread(self._reserve_chat, chat, interval)

    def _reserve_chat(self, chat: str, interval: float) -> float:
        with session_scope(self.engine) as session:
            return reserve_chat_slot(
                session, self.channel, chat, interval=interval, now=self.clock()
            )

    def _reserve(self, want: int, ceiling: float, urgent: bool) -> Grant:
        with session_scope(self.engine) as session:
            return reserve_slots(
                session,
                self.channel,
                want=want,
                ceiling=ceiling,
                now=self.clock(),
                urgent=urgent,
            )

    def rate_limited(self, retry_after: float, ceiling: float) -> None:
        def write() -> None:
            with session_scope(self.engine) as session:
                record_rate_limited(
                    session,
                    self.channel,
                    retry_after=retry_after,
                    ceiling=ceiling,
                    now=self.clock(),
                )

        self._spawn(write)

    def pause(self, seconds: float) -> None:
        def write() -> None:
            with session_scope(self.engine) as session:
                record_pause(session, self.channel, seconds=seconds, now=self.clock())

        self._spawn(write)

    def _spawn(self, write: Callable[[], None]) -> None:
        async def run() -> None:
            try:
                await asyncio.to_thread(write)
            except Exception:  # the local pause still holds; the others learn at their next 429
                log.exception("could not share the %s pause", self.channel)

        task = asyncio.get_running_loop().create_task(run())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def settle(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


@dataclass(eq=False)
class _Waiter:
    chat: str | None
    future: asyncio.Future[float] = field(repr=False)


class Pacer:
    def __init__(
        self,
        ceiling: float,
        *,
        ledger: Ledger | None = None,
        per_chat_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        batch_seconds: float = 0.25,
    ) -> None:
        self.ceiling = ceiling
        self.ledger: Ledger = ledger or LocalLedger(clock)
        self._clock = clock
        self._per_chat = per_chat_interval
        self._batch = batch_seconds
        self._rate = ceiling
        self._interval = 1.0 / ceiling
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._queues: tuple[deque[_Waiter], ...] = tuple(deque() for _ in Priority)
        self._chat_next: dict[str, float] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._reservation: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self.missed = 0  # slots let go: this process woke too late for them
        self.late = 0.0  # the seconds of sending they stood for
        self.moved = 0.0  # seconds this process's own run of slots was moved on (see _late)
        self.retaken = 0  # slots a caller came too late to use and took again (still_on_time)
        self._tail = -math.inf  # the last slot this process holds or has used
        # The run: this process's latest grants while no other process reserved in between
        # (each started where the one before ended). Its slots are this process's alone up to
        # its end, so a late wake-up may move them on within it (``_late``).
        self._run_end = -math.inf  # on this process's clock: the first moment not its own
        self._run_ledger_end: float | None = None  # the same on the ledger's clock
        self._shift = 0.0  # how far the run's slots were moved on
        self._older = 0  # held slots (at the front) of earlier runs: never moved
        self._withheld: deque[float] = deque()  # moved past the run's end: wait for more run

    # -- what callers see -------------------------------------------------------------------

    @property
    def rate(self) -> float:
        """The rate this bot is sending at now (learned; at most the ceiling)."""
        return self._rate

    def pause_until(self, moment: float) -> None:
        """A wait learned from elsewhere (the database); local only."""
        if moment > self._paused_until:
            self._paused_until = moment
            self._slots.clear()
            self._end_run()

    def pause(self, seconds: float, *, share: bool = True) -> None:
        """Stop sending for a while (an outage, a bad token); every process if ``share``."""
        self.pause_until(self._clock() + seconds)
        if share:
            self.ledger.pause(seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def backlog(self) -> float:
        """Seconds of sends already waiting (or of flood wait): how busy the bot is now."""
        now = self._clock()
        waiting = sum(len(q) for q in self._queues) / max(self._rate, 1e-9)
        promised = (self._slots[-1] - now) if self._slots else 0.0
        return max(0.0, promised, waiting, self._paused_until - now)

    def still_on_time(self, released: float) -> bool:
        """Whether a send let go at ``released`` (what ``acquire`` returned) may still leave.

        A caller that waits after its slot (for a place on the wire) must not send long after
        it: sends held back together would leave together. Up to ``late_tolerance`` of waiting
        is fine (a send then leaves at most twice the tolerance after its slot, which still
        keeps any second within the ceiling, ``late_tolerance``); later, take a new slot.
        """
        return self._clock() - released <= late_tolerance(self._interval)

    def on_rate_limited(self, retry_after: float) -> None:
        """A 429: this process waits at once; the ledger tells the others and slows the bot."""
        self.pause_until(self._clock() + retry_after)
        self.ledger.rate_limited(retry_after, self.ceiling)

    def on_success(self) -> None:
        """Kept for callers; the pace climbs with time (``db.delivery.pace``), not per send."""

    async def acquire(
        self, chat_id: str | None = None, priority: Priority = Priority.BROADCAST
    ) -> float:
        """Wait for this send's slot; the moment it was let go, on the pacer's clock (within
        ``late_tolerance`` after the slot, however late the caller then runs: tests and
        benchmarks judge the pace by it).

        A reply or a redraw first takes its chat's turn in the ledger: another process may be
        answering the same person (a broadcast message, one per chat, skips that round trip).
        """
        if chat_id is not None and priority != Priority.BROADCAST and self._per_chat > 0:
            try:
                wait = await self.ledger.reserve_chat(chat_id, self._per_chat)
            except Exception as exc:  # the local spacing holds; the bot-wide pace is unharmed
                # Neither the chat id (a WhatsApp one is a phone number) nor the error's text.
                log.warning("could not reserve a chat's turn: %s", type(exc).__name__)
                wait = 0.0
            if wait > 0:
                await asyncio.sleep(wait)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queues[priority].append(_Waiter(chat_id, future))
        self._kick()
        try:
            return await future
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def aclose(self) -> None:
        if self.missed or self.moved or self.retaken:
            # What a loaded machine cost this process's pace: where to look first when the bot
            # sends below its pace.
            log.info(
                "pace: %d slots let go, own run moved on %.2f s, %d slots taken again",
                self.missed,
                self.moved,
                self.retaken,
            )
        for task in (self._dispatcher, self._reservation):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.ledger.settle()

    # -- the dispatcher ---------------------------------------------------------------------

    def _kick(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._wakeup = asyncio.Event()
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    async def _nap(self, seconds: float) -> None:
        assert self._wakeup is not None
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=max(0.0, seconds))

    async def _dispatch(self) -> None:
        while True:
            for queue in self._queues:
                while queue and queue[0].future.done():
                    queue.popleft()
            if not any(self._queues):
                return
            now = self._clock()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            self._late(now)
            # Reserve the next slots while the last ones are still being used: a reservation
            # is a database round trip, and waiting for it would leave the bot idle meanwhile.
            if self._reservation is None and len(self._slots) < self._low_water():
                waiting = self._ready_count(now + self._batch)
                if waiting > len(self._slots):
                    self._reservation = asyncio.get_running_loop().create_task(
                        self._reserve(waiting - len(self._slots))
                    )
            if not self._slots:
                if self._reservation is not None:
                    await self._nap(self._batch)  # woken when the slots arrive
                else:
                    await self._nap(self._next_chat_ready(now) - now)
                continue
            slot = self._slots[0]
            if slot > now:
                await asyncio.sleep(slot - now)
                continue
            waiter = self._pick(now)
            if waiter is None:  # every waiting send is for a chat still spacing out
                await self._nap(self._next_chat_ready(now) - now)
                continue
            self._pop()
            if waiter.chat is not None:
                self._chat_next[waiter.chat] = now + self._per_chat
                if len(self._chat_next) > 50_000:
                    self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
            waiter.future.set_result(now)

    def _late(self, now: float) -> None:
        """This process woke too late for its next slot (more than the tolerance): neither
        squeeze the late sends in (they would bunch) nor move them onto other processes' time.

        A slot is a moment of the bot's shared time, and the ledger may have handed the moments
        after this process's slots to another process: moving every slot on by the delay (as
        this module once did) put two processes' sends into the same stretch of time. Within
        its own run (grants no other process reserved between) the slots are this process's
        alone: they move on by the delay there, and those that would pass the run's end wait
        (``_withheld``) for the next grant to continue the run, or are let go if another
        process's slots come first, or once the run has moved on a whole batch. A lone process
        so loses no more than the stalls took; slots of an earlier run are let go when passed.
        """
        tolerance = late_tolerance(self._interval)
        slots = self._slots
        if not slots or now - slots[0] <= tolerance:
            return
        delay = now - slots[0] - tolerance
        if self._older == 0:
            self._slots = deque(slot + delay for slot in slots)
            self._withheld = deque(slot + delay for slot in self._withheld)
            self._shift += delay
            self.moved += delay
            self._withhold()
            if self._shift >= self._batch:
                self._rejoin()
            slots = self._slots
            if slots:
                return
        while slots and now - slots[0] > tolerance:
            self._pop()
            self.missed += 1
            self.late += self._interval

    def _pop(self) -> None:
        self._slots.popleft()
        self._older = max(0, self._older - 1)

    def _withhold(self) -> None:
        """Slots moved within 1 interval of the run's end wait there: the next process's slots
        may start at the end."""
        limit = self._run_end - self._interval + 1e-9
        while self._slots and self._older < len(self._slots) and self._slots[-1] > limit:
            self._withheld.appendleft(self._slots.pop())

    def _rejoin(self) -> None:
        """Fallen a batch behind the ledger: what waits at the run's end is let go (it would
        wait ever longer) and the run's next grants come at the ledger's moments again, right
        after the slots held (all within the run). What is lost is what the stalls took."""
        self.missed += len(self._withheld)
        self._withheld.clear()
        self._shift = 0.0
        self._tail = min(self._tail, self._run_end - self._interval)

    def _end_run(self) -> None:
        """Another process's slots (or a pause) come next: what waited at the end is let go."""
        self.missed += len(self._withheld)
        self._withheld.clear()
        # The next run starts where the ledger says, not after the slots let go here.
        self._tail = self._slots[-1] if self._slots else min(self._tail, self._run_end)
        self._shift = 0.0
        self._older = len(self._slots)
        self._run_ledger_end = None

    def _low_water(self) -> int:
        """Reserve again when less than one batch is left: a reservation is a database write,
        which on a busy server can take longer than the last few slots last."""
        return max(2, int(self._rate * self._batch))

    async def _reserve(self, want: int) -> None:
        want = max(1, min(want, int(self._rate * self._batch) + 1))
        try:
            try:
                grant = await self.ledger.reserve(
                    want, self.ceiling, urgent=self._replies_waiting()
                )
            except Exception:
                log.exception("could not reserve send slots; retrying")
                await asyncio.sleep(0.5)
                return
            now = self._clock()
            self._rate, self._interval = grant.rate, grant.interval
            if grant.pause > 0:
                self.pause_until(now + grant.pause)
            if grant.count == 0:
                await asyncio.sleep(min(grant.delay, self._batch))
                return
            # The granted moment on this process's clock (not ``now + delay``: the answer's
            # round trip would push every batch later, onto the next process's slots). Never
            # before this process's own last slot (the two clocks' offset may wobble).
            end = grant.start + grant.count * grant.interval
            if self._run_ledger_end is None or abs(grant.start - self._run_ledger_end) > 1e-4:
                self._end_run()  # another process reserved in between: a new run
            self._run_ledger_end = end
            start = self._on_my_clock(grant.start)
            self._run_end = start + grant.count * grant.interval
            first = start + self._shift
            # Never closer to this process's own last slot than the spacing, beyond what reading
            # two clocks side by side can tell apart (``CLOCK_WOBBLE``): pushing a one-slot grant
            # on by that microsecond put it past its run's end, where it was held back and let go.
            if self._tail + grant.interval - first > CLOCK_WOBBLE:
                first = self._tail + grant.interval
            self._slots.extend(self._withheld)
            self._withheld.clear()
            self._slots.extend(first + i * grant.interval for i in range(grant.count))
            self._tail = self._slots[-1]
            self._withhold()
        finally:
            self._reservation = None
            if self._wakeup is not None:
                self._wakeup.set()

    def _on_my_clock(self, moment: float) -> float:
        """A moment of the ledger's clock on this process's clock.

        The two clocks are read side by side, a few times, keeping the closest pair: a thread
        switch between two reads (5 ms and more on a busy machine) would move every slot of
        the grant by as much, onto the neighbouring slots of another process.
        """
        closest, offset = math.inf, 0.0
        for _ in range(3):
            before = self._clock()
            ledger = self.ledger.now()
            after = self._clock()
            if after - before < closest:
                closest, offset = after - before, (before + after) / 2 - ledger
            if closest < 1e-4:
                break
        return moment + offset

    def _replies_waiting(self) -> bool:
        return any(not w.future.done() for w in self._queues[Priority.REPLY])

    def _ready(self, waiter: _Waiter, moment: float) -> bool:
        return waiter.chat is None or self._chat_next.get(waiter.chat, 0.0) <= moment

    def _ready_count(self, moment: float) -> int:
        return sum(
            1 for q in self._queues for w in q if not w.future.done() and self._ready(w, moment)
        )

    def _next_chat_ready(self, now: float) -> float:
        times = [
            self._chat_next.get(w.chat, now) if w.chat is not None else now
            for q in self._queues
            for w in q
            if not w.future.done()
        ]
        return max(now, min(times, default=now + self._batch))

    def _pick(self, now: float) -> _Waiter | None:
        for queue in self._queues:
            for index, waiter in enumerate(queue):
                if waiter.future.done():
                    continue
                if self._ready(waiter, now):
                    del queue[index]
                    return waiter
        return None


def shared_pacer(engine: Engine, channel: str, ceiling: float) -> Pacer:
    """The pacer of one channel of this process, drawing on the bot's one budget."""
    return Pacer(ceiling, ledger=SharedLedger(engine, channel))
