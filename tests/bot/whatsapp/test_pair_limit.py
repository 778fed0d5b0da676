"""A pair rate limit (131056) during a broadcast holds back one recipient, not the number.

The broadcaster against the emulated Cloud API, on SQLite and PostgreSQL: one recipient has
just been sent a message (their pair bucket is empty), the others have not. Everyone else must
go at once; that one delivery waits and goes after the pair wait, and the number's pacer is
never paused for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.broadcast import Broadcaster, WorkerConfig
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.whatsapp.sender import WhatsAppChannel
from db.engine import session_scope
from db.models import Delivery, DeliveryStatus
from db.posts.lifecycle import approve_post
from tests.bot.whatsapp.posts import template_post

FAST = WorkerConfig(idle_poll=0.05, heartbeat_interval=0.2, flush_interval=0.01)
PAIR_WAIT = 1.5  # seconds our sender waits after a 131056 (the setting; Meta's ~6 s)


@pytest.fixture
def wa() -> Iterator[WhatsAppEmulator]:
    # One message to a user, then a second only 4 s later: the pair limit bites at once.
    limits = Limits(rate=1000, pair_rate=0.25, pair_burst=1, messaging_limit=None)
    with WhatsAppEmulator(limits) as emulator:
        yield emulator


def test_pair_limit_defers_that_recipient_only(engine: Engine, wa: WhatsAppEmulator) -> None:
    users = wa.world.add_users(6)
    post_id = template_post(engine, users, "https://instagram.com/p/pair")
    busy = users[0]

    async def run() -> tuple[Broadcaster, float, float]:
        channel = WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url, pair_wait=PAIR_WAIT)
        # The busy recipient was just sent something (a registration reply, say).
        await channel.send_text(busy, "Terima kasih")
        with session_scope(engine) as session:
            approve_post(session, post_id)
        worker = Broadcaster(engine, {"whatsapp": channel}, {"whatsapp": 1000}, config=FAST)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        began = time.monotonic()
        others_at = busy_at = 0.0
        while time.monotonic() - began < 20:
            await asyncio.sleep(0.05)
            with session_scope(engine, readonly=True) as session:
                rows = list(session.exec(select(Delivery).where(Delivery.post_id == post_id)))
            sent = {r.id for r in rows if r.status == DeliveryStatus.SENT}
            if not others_at and len(sent) >= len(users) - 1:
                others_at = time.monotonic() - began
                assert worker.pacers["whatsapp"].paused_for() == 0  # the number never paused
            if len(sent) == len(users):
                busy_at = time.monotonic() - began
                break
        stop.set()
        await runner
        await channel.aclose()
        return worker, others_at, busy_at

    worker, others_at, busy_at = asyncio.run(run())
    assert worker.stats.recipient_limited >= 1 and worker.stats.rate_limited == 0
    assert 0 < others_at < PAIR_WAIT, others_at  # the others did not wait for the busy one
    assert busy_at >= PAIR_WAIT * 0.5, busy_at  # the busy one waited, then went
    with session_scope(engine, readonly=True) as session:
        rows = list(session.exec(select(Delivery).where(Delivery.post_id == post_id)))
    assert all(r.status == DeliveryStatus.SENT for r in rows)
    assert all(len(wa.world.messages(u)) == 1 for u in users[1:])
    assert len(wa.world.messages(busy)) == 2  # the reply, then the post: never twice
    assert wa.world.stats()["calls"].get("131056", 0) >= 1
