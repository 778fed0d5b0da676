"""A worker that stalls past its lease (a long GC pause, a starved CPU, a frozen VM, or a
database outage that keeps it from renewing) must not send what another worker took over
meanwhile (issue 10: "no stale worker"; issue 12: a restart never sends twice beyond the
requests in flight). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine

from bot.broadcast import Broadcaster
from bot.channels.telegram import TelegramChannel
from bot.emulators.telegram import TelegramEmulator
from db.engine import make_engine
from db.models import DeliveryStatus
from tests.bot.conftest import registered_members
from tests.bot.test_broadcast import FAST, approve, broadcast, deliveries

LEASE = timedelta(seconds=1)
CONFIG = replace(FAST, lease=LEASE)


def sent_messages(tg: TelegramEmulator, *, after: float = 0.0) -> int:
    """``sendMessage`` calls Telegram accepted after ``after`` (its clock)."""
    return sum(1 for c in tg.world.calls("sendMessage") if c.status == 200 and c.at > after)


def take_over(
    database_url: str, engine: Engine, tg: TelegramEmulator, post_id: int
) -> tuple[int, float]:
    """Worker B finishes the post from scratch, called from A's event loop so that A is stalled
    meanwhile (not stopped: its tasks go on once this returns)."""
    recorded = sum(d.status == DeliveryStatus.SENT for d in deliveries(engine, post_id))
    time.sleep(0.3)  # anything A had on the wire reaches Telegram meanwhile
    in_flight = sent_messages(tg) - recorded
    other = make_engine(database_url)
    b = threading.Thread(
        target=lambda: asyncio.run(broadcast(other, tg, post_id, rate=50, config=CONFIG))
    )
    b.start()
    b.join(timeout=60)
    other.dispose()
    assert not b.is_alive(), "worker B did not finish the post"
    return in_flight, tg.world.clock()


async def stall_while_another_takes_over(
    database_url: str, engine: Engine, tg: TelegramEmulator, post_id: int
) -> tuple[int, float]:
    """Worker A (10/s, so it holds rows waiting for their slots) stalls: its event loop does
    nothing while worker B, started then, finishes the post; then A runs again for a while.
    Returns the sends that were in flight when A stalled, and when B had finished (the
    emulator's clock)."""
    channel = TelegramChannel(tg.token, tg.url)
    a = Broadcaster(engine, {"telegram": channel}, {"telegram": 10}, config=CONFIG)
    stop = asyncio.Event()
    runner = asyncio.create_task(a.run(stop))
    try:
        deadline = time.monotonic() + 20
        while sent_messages(tg) < 3:
            assert time.monotonic() < deadline, "worker A sent nothing"
            await asyncio.sleep(0.01)

        in_flight, b_done = take_over(database_url, engine, tg, post_id)  # blocks A's loop
        await asyncio.sleep(3 * LEASE.total_seconds())  # A wakes up with rows it still holds
        assert not runner.done(), "worker A stopped"
        return in_flight, b_done
    finally:
        stop.set()
        await runner
        await channel.aclose()


def test_a_worker_that_stalls_past_its_lease_does_not_send_what_another_took_over(
    database_url: str, tg: TelegramEmulator
) -> None:
    engine = make_engine(database_url)
    try:
        members = registered_members(engine, tg, 40)
        post_id = approve(engine)
        in_flight, b_done = asyncio.run(
            stall_while_another_takes_over(database_url, engine, tg, post_id)
        )
        assert all(d.status == DeliveryStatus.SENT for d in deliveries(engine, post_id))
    finally:
        engine.dispose()
    # A woke up holding rows B had sent: it sent none of them.
    assert sent_messages(tg, after=b_done) == 0
    counts = tg.world.delivered_counts()
    assert all(counts[m.user_id] >= 1 for m in members)  # none lost
    assert sum(counts[m.user_id] - 1 for m in members) <= in_flight
