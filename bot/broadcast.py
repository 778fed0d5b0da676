"""The delivery worker: claims due deliveries from the outbox, sends them, records outcomes.

Durability comes from the outbox (``db.delivery.outbox``): a row is only ever leased, never
removed, so a crash leaves unsent rows to the next worker, and only rows whose send was on
the wire at the crash can go out twice. Outcomes are written in small batches every few
milliseconds; the batch is part of what counts as "in flight".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.channels.base import (
    Channel,
    Deferred,
    Misconfigured,
    OutgoingPost,
    RateLimited,
    Rejected,
    SendError,
    Transient,
    Unreachable,
)
from bot.ratelimit import Pacer
from bot.whatsapp.webhook import window_open
from db.delivery.coordination import channel_pauses, heartbeat, pause_channel, retire
from db.delivery.outbox import Claimed, Outcome, claim_due, finish_posts, record_outcomes
from db.delivery.reminders import claim_reminders, in_quiet_hours
from db.engine import session_scope
from db.types import utcnow

log = logging.getLogger("gaung.broadcast")
Clock = Callable[[], datetime]
MISCONFIGURED_PAUSE = 60.0


@dataclass(frozen=True)
class ReminderPolicy:
    delay: timedelta
    tz: ZoneInfo
    quiet_start: dt_time
    quiet_end: dt_time
    poll: float = 30.0
    batch: int = 200


@dataclass
class WorkerConfig:
    max_attempts: int = 5
    lease: timedelta = timedelta(seconds=60)
    flush_interval: float = 0.02
    idle_poll: float = 0.5
    heartbeat_interval: float = 2.0
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    max_inflight: int | None = None  # default: sized from the rate
    reminders: ReminderPolicy | None = None


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
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
        self._pauses: dict[str, datetime] = {}
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        rate = max(rates[name] for name in self.channels)
        self.max_inflight = self.config.max_inflight or max(4, min(256, int(rate * 0.2) + 4))

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> Stats:
        flusher = asyncio.create_task(self._flush_loop(stop))
        beat = asyncio.create_task(self._heartbeat_loop(stop))
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
                room = self.max_inflight * 2 - self._inflight
                full = room < self.max_inflight
                if full or self._paused():
                    await self._sleep(stop, 0.01 if full else 0.1)
                    continue
                claimed = await asyncio.to_thread(self._claim, room)
                if not claimed:
                    await self._sleep(stop, self.config.idle_poll)
                    continue
                for item in claimed:
                    self._inflight += 1
                    task = asyncio.create_task(self._send(item))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self.stats.inflight_peak = max(self.stats.inflight_peak, self._inflight)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            stop.set()
            await flusher
            await beat
            if reminders is not None:
                await reminders
            await asyncio.to_thread(self._retire)
        return self.stats

    def _paused(self) -> bool:
        return all(p.paused_for() > 0 for p in self.pacers.values())

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    def _claim(self, room: int) -> list[Claimed]:
        now = self.clock()
        channels = [
            name
            for name, pacer in self.pacers.items()
            if pacer.paused_for() <= 0 and not (name in self._pauses and self._pauses[name] > now)
        ]
        if not channels:
            return []
        per_batch = max(1, min(room, int(max(p.rate for p in self.pacers.values()) / 2) + 1))
        with session_scope(self.engine) as session:
            return claim_due(
                session,
                worker=self.worker_id,
                limit=per_batch,
                now=now,
                lease=self.config.lease,
                post_id=self.post_id,
                channels=channels,
            )

    async def _send(self, item: Claimed) -> None:
        try:
            outcome = await self._attempt(item)
        except Exception as exc:  # a bug must not lose the delivery: retry it later
            log.exception("unexpected error sending delivery %s", item.id)
            outcome = self._retry(item, f"internal: {type(exc).__name__}")
        finally:
            self._inflight -= 1
        self._count(outcome)
        self._outcomes.append(outcome)

    async def _attempt(self, item: Claimed) -> Outcome:
        channel = self.channels[item.channel]
        pacer = self.pacers[item.channel]
        if item.chat_id is None:
            return Outcome(item.id, "failed", error="ASN tidak punya identitas chat lagi")
        await pacer.acquire(item.chat_id)
        try:
            message_id = await channel.send_post(_message(item, item.chat_id, now=self.clock()))
        except Deferred as exc:  # this message only (a full WhatsApp tier): the channel goes on
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=exc.until)
        except RateLimited as exc:
            pacer.on_rate_limited(exc.retry_after)
            until = self.clock() + timedelta(seconds=exc.retry_after)
            self._pauses[item.channel] = max(until, self._pauses.get(item.channel, until))
            self.stats.rate_limited += 1
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=until)
        except Unreachable as exc:
            return Outcome(item.id, "unreachable", error=exc.reason, identity_id=item.identity_id)
        except Rejected as exc:
            return Outcome(item.id, "failed", error=exc.reason)
        except Misconfigured as exc:
            pacer.pause(MISCONFIGURED_PAUSE)
            log.error("channel %s misconfigured: %s", item.channel, exc.reason)
            until = self.clock() + timedelta(seconds=MISCONFIGURED_PAUSE)
            return Outcome(item.id, "deferred", error=exc.reason, next_attempt_at=until)
        except (Transient, SendError) as exc:
            return self._retry(item, exc.reason)
        pacer.on_success()
        return Outcome(item.id, "sent", message_id=message_id)

    def _retry(self, item: Claimed, reason: str) -> Outcome:
        attempts = item.attempts + 1
        if attempts >= self.config.max_attempts:
            return Outcome(item.id, "failed", error=f"gagal setelah {attempts} percobaan: {reason}")
        delay = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (attempts - 1))
        delay *= random.uniform(0.5, 1.5)
        return Outcome(
            item.id, "retry", error=reason, next_attempt_at=self.clock() + timedelta(seconds=delay)
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
            )

    async def _remind(self, item: Claimed) -> bool:
        if item.chat_id is None:
            return False
        pacer = self.pacers[item.channel]
        await pacer.acquire(item.chat_id)
        try:
            await self.channels[item.channel].send_post(
                _message(item, item.chat_id, reminder=True, now=self.clock())
            )
        except RateLimited as exc:
            pacer.on_rate_limited(exc.retry_after)
            return False
        except Unreachable as exc:
            self._outcomes.append(
                Outcome(item.id, "identity", error=exc.reason, identity_id=item.identity_id)
            )
            return False
        except SendError as exc:
            log.warning("reminder for delivery %s not sent: %s", item.id, exc.reason)
            return False
        self.stats.reminded += 1
        return True

    # -- background duties -----------------------------------------------------------------

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while True:
            stopping = stop.is_set() and self._inflight == 0
            if self._outcomes:
                batch, self._outcomes = self._outcomes, []
                pauses = dict(self._pauses)
                try:
                    await asyncio.to_thread(self._write, batch, pauses)
                except Exception:
                    log.exception("could not record %d outcomes; retrying", len(batch))
                    self._outcomes = batch + self._outcomes
                    await asyncio.sleep(0.5)
                    continue
            if stopping and not self._outcomes:
                return
            await asyncio.sleep(self.config.flush_interval)

    def _write(self, batch: list[Outcome], pauses: dict[str, datetime]) -> None:
        now = self.clock()
        with session_scope(self.engine) as session:
            posts = record_outcomes(session, batch, now=now)
            finish_posts(session, posts, now=now)
            for channel, until in pauses.items():
                if until > now:
                    pause_channel(session, channel, until, now=now)

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                live, pauses = await asyncio.to_thread(self._beat)
            except Exception:
                log.exception("heartbeat failed")
            else:
                now_wall, now_mono = self.clock(), time.monotonic()
                for name, pacer in self.pacers.items():
                    pacer.set_share(live)
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
