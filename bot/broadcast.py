"""The delivery worker: claims due deliveries from the outbox, sends them, records outcomes.

Durability comes from the outbox (``db.delivery.outbox``): a row is only ever leased, never
removed, so a crash leaves unsent rows to the next worker, and only rows whose send was on
the wire at the crash can go out twice. Outcomes are written in batches (a tenth of a second's
worth, at least 32; or once the oldest has waited a quarter of a second; or at once when
nothing else is in flight); the batch is part of what counts as
"in flight". Leases are renewed while rows
wait for their send slot, and an outcome is recorded only while this worker still holds the
row's lease.

Failures are the channel's or the delivery's. A 429 pauses the bot (every process, through the
pacer's ledger). Timeouts, dropped connections and 5xx are the channel's trouble: after
``outage_after`` in a row the channel pauses for everyone and then probes with one send, and
the deliveries spend no attempt; a delivery fails for good only when its own request is
refused, or when it has kept failing for its whole time budget (a day by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.channels.base import (
    Channel,
    Deferred,
    Misconfigured,
    OutgoingPost,
    Prepares,
    RateLimited,
    RecipientRateLimited,
    Rejected,
    SendError,
    StrictLimit,
    Transient,
    Unreachable,
)
from bot.channels.wire import Withheld, may_write
from bot.ratelimit import FAST_SPACING, Pacer, Priority, late_tolerance
from bot.whatsapp.webhook import window_open
from db.delivery.coordination import channel_pauses, heartbeat, retire
from db.delivery.outbox import (
    Claimed,
    DueListener,
    Outcome,
    claim_due,
    finish_posts,
    record_outcomes,
    renew_leases,
)
from db.delivery.reminders import claim_reminders, in_quiet_hours
from db.engine import session_scope
from db.models import FailureKind
from db.types import utcnow

log = logging.getLogger("gaung.broadcast")
Clock = Callable[[], datetime]
MISCONFIGURED_PAUSE = 60.0
# Seconds a starting worker sends before its other duties start, if the outbox has not been
# emptied by then: 8,000 paid sends take about 8.5 s (on a loaded machine 20 s, and duties
# started 10 s in stalled the loop mid-broadcast: 9 × 429); duties 30 s late harm no one.
CATCH_UP = 30.0


@dataclass(frozen=True)
class ReminderPolicy:
    delay: timedelta
    tz: ZoneInfo
    quiet_start: dt_time
    quiet_end: dt_time
    poll: float = 30.0
    batch: int = 200
    # Issue 15: a clarification post's reminder delay, and the most reminders per ASN a week.
    clarification_delay: timedelta | None = None
    per_week: int | None = None


@dataclass
class WorkerConfig:
    time_budget: timedelta = timedelta(hours=24)  # a delivery failing transiently gives up after
    lease: timedelta = timedelta(seconds=60)
    flush_interval: float = 0.02  # how often the outcome writer looks
    # ... and writes once this many outcomes wait (default: a tenth of a second's worth at the
    # channels' rates, between 32 and 256: at 1,000/s batches of 32 meant 30 transactions a
    # second, each six statements and a durable commit, a third of the worker's CPU),
    flush_batch: int | None = None
    flush_max_wait: float = 0.25  # or the oldest has waited this long, or nothing is in flight
    # s between claims while nothing is due (approval to first send; on PostgreSQL an
    # approval wakes the worker at once: ``db.delivery.outbox.DueListener``)
    idle_poll: float = 0.2
    heartbeat_interval: float = 2.0
    backoff_base: float = 2.0
    backoff_cap: float = 60.0
    outage_after: int = 3  # transient failures in a row that pause the channel
    probe_interval: float = 5.0  # while paused for an outage, one probe send this often
    max_inflight: int | None = None  # default: sized from the rate
    reminders: ReminderPolicy | None = None
    # s a stopping worker keeps finishing its sends and recording their outcomes; then it exits
    # even if the database does not answer (the rows stay leased: see ``Broadcaster.run``)
    stop_grace: float = 30.0


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    recipient_limited: int = 0  # deliveries put back for one recipient's limit (131056)
    outages: int = 0
    reminded: int = 0
    inflight_peak: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def _message(
    item: Claimed, chat_id: str, *, reminder: bool = False, now: datetime | None = None
) -> OutgoingPost:
    return OutgoingPost(
        delivery_id=item.id,
        chat_id=chat_id,
        url=item.url,
        caption=item.caption,
        platform=item.platform,
        opd_nama=item.opd_nama,
        reminder=reminder,
        window_open=now is not None and window_open(item.last_inbound_at, now),
    )


CLAIM_RETRY = 1.0  # s between claims while the database does not answer
FAST = 500.0  # messages/s from which a worker claims half a second ahead (paid broadcast)


def window_for(rate: float) -> int:
    """Sends one channel keeps claimed ahead: at least a second's worth at low rates (a claim
    is a durable write, which on a busy server can outlast a smaller buffer and leave slots
    unused), a fifth of a second at moderate rates (so that two workers share a small
    broadcast) and half a second from ``FAST`` on; never so much that one worker holds a whole
    broadcast. (At 1,000/s a fifth of a second, 204 rows, ran dry for 17 % of a paid run on a
    loaded machine: claims took 120-200 ms, and the pacer reserves slots only for sends
    waiting, so a short queue also meant more, smaller reservations; with 504: 1 %.)"""
    ahead = max(int(rate * (0.5 if rate >= FAST else 0.2)), min(int(rate), 32))
    return max(8, min(512, ahead + 4))


def flush_batch_for(rate: float) -> int:
    """Outcomes written together: a tenth of a second's worth, between 32 and 256."""
    return max(32, min(256, int(rate / 10)))


class Broadcaster:
    """One worker. Several may run, in one process or many, on one database."""

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        rates: Mapping[str, float],
        *,
        config: WorkerConfig | None = None,
        clock: Clock = utcnow,
        post_id: int | None = None,
        worker_id: str | None = None,
        pacers: Mapping[str, Pacer] | None = None,
    ) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.config = config or WorkerConfig()
        self.clock = clock
        self.post_id = post_id
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        # A pacer given by the caller is shared with the chat replies of the same bot.
        given = dict(pacers or {})
        self.pacers = {name: given.get(name) or Pacer(rates[name]) for name in self.channels}
        self.stats = Stats()
        self._outcomes: list[Outcome] = []
        self._oldest_outcome = 0.0  # monotonic time the oldest unwritten outcome arrived
        # Rows leased to this worker whose outcome is not yet written, each with the monotonic
        # time its lease runs out at the latest (as claimed or last renewed): a row past it may
        # already be another worker's, so it is not sent.
        self._held: dict[int, float] = {}
        self._streak: dict[str, int] = {}  # transient failures in a row, per channel
        self._probing: set[str] = set()  # channels paused for an outage, trying one send
        self._inflight = 0
        self._stop_by = math.inf  # monotonic: when a stopping worker gives up on the database
        self.live_workers = 1
        self._tasks: set[asyncio.Task[None]] = set()
        # Each channel has its own window of claimed sends: with one window shared, the rows of
        # the channel that came first in the outbox filled it, and a post to people on both
        # channels went out one channel after the other instead of both at once.
        self._inflight_by = dict.fromkeys(self.channels, 0)
        self.max_inflight_by = {
            name: self.config.max_inflight or window_for(rates[name]) for name in self.channels
        }
        self.max_inflight = max(self.max_inflight_by.values())
        self.flush_batch = self.config.flush_batch or flush_batch_for(
            sum(rates[name] for name in self.channels)
        )
        self._listener = DueListener(engine) if engine.dialect.name == "postgresql" else None
        # Set once a claim finds nothing due and no send is waiting for its answer: what was
        # due at the start has gone out.
        self._caught_up = asyncio.Event()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> Stats:
        flusher = asyncio.create_task(self._flush_loop(stop))
        beat = asyncio.create_task(self._heartbeat_loop(stop))
        renewer = asyncio.create_task(self._renew_loop(stop))
        reminders = (
            asyncio.create_task(self._reminder_loop(stop, self.config.reminders))
            if self.config.reminders
            else None
        )
        try:
            while not stop.is_set():
                # Top up in batches, once half the window has gone out: a claim is a write
                # transaction, and topping up a few rows as each send finished meant ~100
                # claims/s at 1,000/s (13 % of the worker's CPU; 7 % in batches).
                rooms = {
                    name: self.max_inflight_by[name] * 2 - self._inflight_by[name]
                    for name in self.channels
                }
                rooms = {n: r for n, r in rooms.items() if r >= self.max_inflight_by[n]}
                if not rooms or self._paused():
                    await self._sleep(stop, 0.1 if self._paused() else 0.01)
                    continue
                asked_at = time.monotonic()
                try:
                    claimed = await asyncio.to_thread(self._claim, rooms)
                except Exception as exc:
                    # The database away (restarting, failing over): wait and claim again, as
                    # the flush, renew and heartbeat loops do, rather than end the worker.
                    log.warning("could not claim deliveries (%s); retrying", type(exc).__name__)
                    await self._sleep(stop, CLAIM_RETRY)
                    continue
                if not claimed:
                    if not self._tasks:  # and every send answered, not only claimed
                        self._caught_up.set()
                    await self._idle(stop)
                    continue
                self._prepare(claimed)
                for item in claimed:
                    self._held[item.id] = asked_at + self.config.lease.total_seconds()
                    self._inflight += 1
                    self._inflight_by[item.channel] += 1
                    task = asyncio.create_task(self._send(item))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self.stats.inflight_peak = max(self.stats.inflight_peak, self._inflight)
        finally:
            # Stopping, perhaps while the database is away: sends waiting for a slot (which the
            # shared pacer reserves in the database) and outcomes that cannot be written would
            # hold the worker for ever. Both get ``stop_grace``; what is left then stays leased
            # to this worker until the lease runs out and another worker sends it (again, if it
            # went out: the "duplicates at most in flight" bound). Nothing is lost.
            self._stop_by = time.monotonic() + self.config.stop_grace
            unsent = await _finish_by(self._tasks, self._stop_by)
            stop.set()
            await flusher
            await beat
            await renewer
            if reminders is not None:
                await _finish_by({reminders}, self._stop_by)
            if unsent or self._outcomes:
                log.error(
                    "stopped after %.0f s with %d outcomes not recorded and %d claimed deliveries"
                    " not sent; their rows stay leased until the lease runs out, then another"
                    " worker takes them over",
                    time.monotonic() - (self._stop_by - self.config.stop_grace),
                    len(self._outcomes),
                    unsent,
                )
            for pacer in self.pacers.values():
                await pacer.ledger.settle()
            if self._listener is not None:
                self._listener.close()
            await asyncio.to_thread(self._retire)
        return self.stats

    async def caught_up(self, stop: asyncio.Event, *, within: float = CATCH_UP) -> None:
        """Return once a claim found nothing due with no send in flight (or ``within`` seconds,
        or at ``stop``).

        ``gaung worker`` starts its other duties after this: their imports and first round
        trips run on this event loop, and a worker started for a post just approved would
        otherwise pause its first sends for them (a paid broadcast leaves no slack)."""
        waits = [asyncio.ensure_future(self._caught_up.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Nothing was due: claim again after ``idle_poll``, or as soon as another process
        queues deliveries (PostgreSQL's NOTIFY, ``wake_workers``)."""
        if self._listener is None:
            await self._sleep(stop, self.config.idle_poll)
        else:
            await asyncio.to_thread(self._listener.wait, self.config.idle_poll)

    def _prepare(self, claimed: list[Claimed]) -> None:
        """Let a channel do per-batch work ahead of the sends (``Channel.prepare``)."""
        now = self.clock()
        for name, channel in self.channels.items():
            if not isinstance(channel, Prepares):
                continue
            mine = [item for item in claimed if item.channel == name and item.chat_id]
            if mine:
                channel.prepare([_message(item, item.chat_id or "", now=now) for item in mine])

    def _paused(self) -> bool:
        return all(p.paused_for() > 0 for p in self.pacers.values())

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    def _claim(self, rooms: dict[str, int]) -> list[Claimed]:
        """Top up each channel with room in its window, in one transaction."""
        now = self.clock()
        channels = [name for name in rooms if self.pacers[name].paused_for() <= 0]
        if not channels:
            return []
        limits: dict[str, int] = {}
        for name in channels:
            # No more than can go out well within the lease at the rate the channel has now.
            rate = self.pacers[name].rate
            lease = int(rate * self.config.lease.total_seconds() / 2) - self._inflight_by[name]
            limits[name] = max(1, min(rooms[name], lease, int(rate / 2) + 1))
        if any(name in self._probing for name in channels):
            if self._inflight:  # a probe is out: wait for its answer
                return []
            limits = {"": 1}  # one probe, from whichever channel is due first
        with session_scope(self.engine) as session:
            claimed: list[Claimed] = []
            for name, limit in limits.items():
                claimed += claim_due(
                    session,
                    worker=self.worker_id,
                    limit=limit,
                    now=now,
                    lease=self.config.lease,
                    post_id=self.post_id,
                    channels=[name] if name else channels,
                )
            return claimed

    async def _send(self, item: Claimed) -> None:
        try:
            outcome = await self._attempt(item)
            if outcome is None:  # its lease ran out unrenewed (the database away): not sent
                self._held.pop(item.id, None)
                return
        except Exception as exc:  # a bug must not lose the delivery: retry it later
            log.exception("unexpected error sending delivery %s", item.id)
            outcome = self._retry(item, f"internal: {type(exc).__name__}")
        finally:
            self._inflight -= 1
            self._inflight_by[item.channel] -= 1
        self._count(outcome)
        self._keep(outcome)

    def _lease_lapsed(self, delivery_id: int) -> bool:
        """Whether the row's lease may have run out, with a quarter of it to spare for the send
        and the write of its outcome."""
        until = self._held.get(delivery_id)
        margin = self.config.lease.total_seconds() / 4
        return until is not None and time.monotonic() > until - margin

    async def _attempt(self, item: Claimed) -> Outcome | None:
        channel = self.channels[item.channel]
        pacer = self.pacers[item.channel]
        if item.chat_id is None:  # claim_due skips these; a race with /hapus can still land here
            return Outcome(item.id, "failed", error="ASN tidak punya identitas chat lagi")
        try:
            message_id = await self._send_on_time(channel, pacer, item, item.chat_id)
            if message_id is None:
                return None
        except Deferred as exc:  # this message only (a full WhatsApp tier): the channel goes on
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=exc.until)
        except RecipientRateLimited as exc:
            # One person's limit (WhatsApp's pair rate): pausing the number would hold up
            # everyone else for one recipient. Only this delivery waits; spends no attempt.
            self._channel_ok(item.channel)
            until = self.clock() + timedelta(seconds=exc.retry_after)
            self.stats.recipient_limited += 1
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=until)
        except RateLimited as exc:
            pacer.on_rate_limited(exc.retry_after)
            until = self.clock() + timedelta(seconds=exc.retry_after)
            self.stats.rate_limited += 1
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=until)
        except Unreachable as exc:
            self._channel_ok(item.channel)
            return Outcome(item.id, "unreachable", error=exc.reason, identity_id=item.identity_id)
        except Rejected as exc:
            self._channel_ok(item.channel)
            return Outcome(item.id, "failed", error=exc.reason, failure_kind=FailureKind.REFUSED)
        except Misconfigured as exc:
            pacer.pause(MISCONFIGURED_PAUSE)
            log.error("channel %s misconfigured: %s", item.channel, exc.reason)
            until = self.clock() + timedelta(seconds=MISCONFIGURED_PAUSE)
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=until)
        except (Transient, SendError) as exc:
            return self._transient(item, exc.reason)
        self._channel_ok(item.channel)
        return Outcome(item.id, "sent", message_id=message_id)

    async def _send_on_time(
        self, channel: Channel, pacer: Pacer, item: Claimed, chat_id: str
    ) -> str | None:
        """Send at this delivery's slot, written within the slot's tolerance and never during a
        flood wait (``_on_time``, ``bot.channels.wire.may_write``); ``None``: not sent, its
        lease may have run out meanwhile."""
        strict = isinstance(channel, StrictLimit)
        while True:
            released = await _on_time(pacer, chat_id, strict=strict)
            if self._lease_lapsed(item.id):
                return None
            if not strict:
                return await channel.send_post(_message(item, chat_id, now=self.clock()))
            gate = may_write.set(partial(_still_may_write, pacer, released))
            try:
                return await channel.send_post(_message(item, chat_id, now=self.clock()))
            except Withheld:  # waited for a connection past its slot: take a new one
                pacer.retaken += 1
            finally:
                may_write.reset(gate)

    def _channel_ok(self, channel: str) -> None:
        """The channel answered: whatever outage there was is over."""
        self._streak[channel] = 0
        if channel in self._probing:
            self._probing.discard(channel)
            log.warning("channel %s answers again; sending resumes", channel)

    def _transient(self, item: Claimed, reason: str) -> Outcome:
        """The channel's trouble: pause it after a few in a row, spend no attempt meanwhile."""
        streak = self._streak.get(item.channel, 0) + 1
        self._streak[item.channel] = streak
        outage = streak >= self.config.outage_after
        if outage:
            if item.channel not in self._probing:
                self.stats.outages += 1
                log.warning("channel %s failing (%s); pausing and probing", item.channel, reason)
            self._probing.add(item.channel)
            self.pacers[item.channel].pause(self.config.probe_interval)
        return self._retry(item, reason, outage=outage)

    def _retry(self, item: Claimed, reason: str, *, outage: bool = False) -> Outcome:
        now = self.clock()
        began = item.first_tried_at or now
        if now - began >= self.config.time_budget:
            hours = self.config.time_budget.total_seconds() / 3600
            return Outcome(
                item.id,
                "failed",
                error=f"gagal terus selama {hours:g} jam: {reason}",
                failure_kind=FailureKind.TRANSIENT,
            )
        if outage:
            delay = self.config.probe_interval
        else:
            delay = min(self.config.backoff_cap, self.config.backoff_base * 2**item.attempts)
            delay *= random.uniform(0.5, 1.5)
        return Outcome(
            item.id,
            "retry",
            error=reason,
            next_attempt_at=now + timedelta(seconds=delay),
            counts_attempt=not outage,
        )

    def _count(self, outcome: Outcome) -> None:
        if outcome.kind == "sent":
            self.stats.sent += 1
        elif outcome.kind in ("failed", "unreachable"):
            self.stats.failed += 1
            key = (outcome.error or "?")[:80]
            self.stats.errors[key] = self.stats.errors.get(key, 0) + 1
        elif outcome.kind == "retry":
            self.stats.retried += 1
        if outcome.kind not in ("identity",):
            self._held.pop(outcome.delivery_id, None)

    # -- reminders -------------------------------------------------------------------------

    async def _reminder_loop(self, stop: asyncio.Event, policy: ReminderPolicy) -> None:
        while not stop.is_set():
            try:
                await self.remind_once(policy)
            except Exception:
                log.exception("reminder round failed")
            await self._sleep(stop, policy.poll)

    async def remind_once(self, policy: ReminderPolicy) -> int:
        """Send the reminders due now; returns how many went out."""
        now = self.clock()
        if in_quiet_hours(now, policy.tz, policy.quiet_start, policy.quiet_end):
            return 0
        claimed = await asyncio.to_thread(self._claim_reminders, policy, now)
        results = await asyncio.gather(*(self._remind(item) for item in claimed))
        return sum(results)

    def _claim_reminders(self, policy: ReminderPolicy, now: datetime) -> list[Claimed]:
        with session_scope(self.engine) as session:
            return claim_reminders(
                session,
                now=now,
                delay=policy.delay,
                limit=policy.batch,
                channels=list(self.channels),
                clarification_delay=policy.clarification_delay,
                per_week=policy.per_week,
            )

    async def _remind(self, item: Claimed) -> bool:
        if item.chat_id is None:
            return False
        pacer, channel = self.pacers[item.channel], self.channels[item.channel]
        await _on_time(pacer, item.chat_id, strict=isinstance(channel, StrictLimit))
        try:
            await channel.send_post(_message(item, item.chat_id, reminder=True, now=self.clock()))
        except RecipientRateLimited:  # this person only: the reminder waits for a later round
            return False
        except RateLimited as exc:
            pacer.on_rate_limited(exc.retry_after)
            return False
        except Unreachable as exc:
            self._keep(Outcome(item.id, "identity", error=exc.reason, identity_id=item.identity_id))
            return False
        except SendError as exc:
            log.warning("reminder for delivery %s not sent: %s", item.id, exc.reason)
            return False
        self.stats.reminded += 1
        return True

    # -- background duties -----------------------------------------------------------------

    def _keep(self, outcome: Outcome) -> None:
        if not self._outcomes:
            self._oldest_outcome = time.monotonic()
        self._outcomes.append(outcome)

    def _flush_due(self, stopping: bool) -> bool:
        """Write outcomes in batches, not every tick: at 80/s a write every 20 ms carried one
        or two outcomes, each a durable transaction. Promptly when nothing else is in flight
        (the end of a broadcast, a lone send) or the oldest has waited ``flush_max_wait``."""
        if not self._outcomes:
            return False
        return (
            stopping
            or self._inflight == 0
            or len(self._outcomes) >= self.flush_batch
            or time.monotonic() - self._oldest_outcome >= self.config.flush_max_wait
        )

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while True:
            stopping = stop.is_set() and self._inflight == 0
            if self._flush_due(stopping):
                batch, self._outcomes = self._outcomes, []
                try:
                    await asyncio.to_thread(self._write, batch)
                except Exception:
                    self._outcomes = batch + self._outcomes
                    if stopping and time.monotonic() >= self._stop_by:
                        return  # ``run`` says how many stay unrecorded
                    log.exception("could not record %d outcomes; retrying", len(batch))
                    await asyncio.sleep(0.5)
                    continue
            if stopping and not self._outcomes:
                return
            await asyncio.sleep(self.config.flush_interval)

    def _write(self, batch: list[Outcome]) -> None:
        now = self.clock()
        with session_scope(self.engine) as session:
            posts = record_outcomes(session, batch, now=now, worker=self.worker_id)
            finish_posts(session, posts, now=now)

    async def _renew_loop(self, stop: asyncio.Event) -> None:
        """Rows waiting for their send slot keep their lease: nobody else takes them over."""
        every = max(0.05, self.config.lease.total_seconds() / 3)
        while not stop.is_set():
            await self._sleep(stop, every)
            held = list(self._held)
            if not held:
                continue
            asked_at = time.monotonic()
            try:
                renewed = await asyncio.to_thread(self._renew, held)
            except Exception:
                log.exception("could not renew %d leases", len(held))
                continue
            until = asked_at + self.config.lease.total_seconds()
            for delivery_id in held:
                if delivery_id not in self._held:
                    continue  # its outcome came in meanwhile
                # A row not renewed is another worker's now (or soon): it is not sent from here.
                self._held[delivery_id] = until if delivery_id in renewed else 0.0

    def _renew(self, ids: list[int]) -> set[int]:
        with session_scope(self.engine) as session:
            return renew_leases(
                session, worker=self.worker_id, ids=ids, now=self.clock(), lease=self.config.lease
            )

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                live, pauses = await asyncio.to_thread(self._beat)
            except Exception:
                log.exception("heartbeat failed")
            else:
                self.live_workers = live
                now_wall, now_mono = self.clock(), time.monotonic()
                for name, pacer in self.pacers.items():
                    if name in pauses and pauses[name] > now_wall:
                        pacer.pause_until(now_mono + (pauses[name] - now_wall).total_seconds())
            await self._sleep(stop, self.config.heartbeat_interval)

    def _beat(self) -> tuple[int, dict[str, datetime]]:
        with session_scope(self.engine) as session:
            live = heartbeat(session, self.worker_id, now=self.clock())
            return live, channel_pauses(session)

    def _retire(self) -> None:
        try:
            with session_scope(self.engine) as session:
                retire(session, self.worker_id)
        except Exception:
            log.exception("could not retire worker %s", self.worker_id)


def _still_may_write(pacer: Pacer, released: float, backlog: float = 0.0) -> bool:
    """Not during a flood wait, within the slot's tolerance and, at ``FAST_SPACING`` rates,
    not while the server holds requests beyond that tolerance unanswered
    (``bot.channels.wire.JsonPoster.backlog``): it would handle them and these together."""
    interval = 1.0 / max(pacer.rate, 1e-9)
    if interval <= FAST_SPACING and backlog > late_tolerance(interval):
        return False
    return pacer.paused_for() <= 0 and pacer.still_on_time(released)


async def _on_time(pacer: Pacer, chat_id: str, *, strict: bool) -> float:
    """Wait for a broadcast send's slot, and take a new one if this coroutine resumed too late
    for it (``Pacer.still_on_time``) or a flood wait began meanwhile.

    The pacer lets a send go at its slot, but the coroutine runs only when the event loop gets
    to it: at 1,000/s, behind a claim of 500 new tasks or an outcome write, 40 ms later at the
    99th percentile on a loaded machine (measured, ``bench/pace.py``). Sends released before
    such a stall then left together after it, more in one second than the pace, and each
    one written during a flood wait lengthens it (Telegram's "growing" penalty, assumed by
    the emulator: 19 sends in flight after one 429 made it a 19-s wait).
    """
    while True:
        released = await pacer.acquire(chat_id, Priority.BROADCAST)
        if not strict or _still_may_write(pacer, released):
            return released
        pacer.retaken += 1


async def _finish_by(tasks: set[asyncio.Task[None]], deadline: float) -> int:
    """Wait for ``tasks`` until ``deadline`` (monotonic), then cancel the rest: how many."""
    if not tasks:
        return 0
    _, late = await asyncio.wait(set(tasks), timeout=max(0.0, deadline - time.monotonic()))
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return len(late)
