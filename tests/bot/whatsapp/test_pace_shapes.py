"""WhatsApp's pace (``db.delivery.pace.cap_for``) under every limiter shape the emulator has.

Meta publishes 80 messages/s per number but not how it counts them. The pace aims closer to
80/s on WhatsApp than on Telegram; that is only honest if a broadcast at that pace stays within
issue 13's bound (130429 on at most 0.5 % of requests) whether Meta counts with a token bucket,
a sliding window or fixed windows. A small broadcast at 80/s per shape, through the shared
ledger a ``gaung worker`` uses, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Engine

from bot.broadcast import Broadcaster, WorkerConfig
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.ratelimit import shared_pacer
from bot.whatsapp.sender import WhatsAppChannel
from db.delivery.outbox import status_counts
from db.delivery.pace import CAP, cap_for, current_pace
from db.engine import session_scope
from db.posts.lifecycle import approve_post
from tests.bot.whatsapp.posts import template_post

RATE = 80.0
SENDS = 160  # two seconds at the pace: every 1-s window of a steady run, many times over
FAST = WorkerConfig(idle_poll=0.05, heartbeat_interval=0.2, flush_interval=0.01)


def test_whatsapp_aims_closer_to_its_ceiling_than_the_default() -> None:
    assert CAP < cap_for("whatsapp", 80) < 1.0
    assert cap_for("whatsapp", 1000) == CAP  # the sender's own jitter is larger there
    assert cap_for("telegram", 30) == CAP


@pytest.mark.parametrize("shape", ["bucket", "sliding", "fixed"])
def test_whatsapp_pace_stays_within_each_limiter_shape(
    engine: Engine, wa_server: WhatsAppEmulator, shape: str
) -> None:
    world = wa_server.reset(Limits(rate=RATE, shape=shape, pair_burst=100, messaging_limit=None))
    users = world.add_users(SENDS)
    post_id = template_post(engine, users, "https://instagram.com/p/pace")

    async def run() -> None:
        channel = WhatsAppChannel(wa_server.token, wa_server.phone_id, api_url=wa_server.url)
        pacer = shared_pacer(engine, "whatsapp", RATE)
        worker = Broadcaster(
            engine, {"whatsapp": channel}, {"whatsapp": RATE}, config=FAST,
            pacers={"whatsapp": pacer},
        )  # fmt: skip
        with session_scope(engine) as session:
            approve_post(session, post_id)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            with session_scope(engine, readonly=True) as session:
                if status_counts(session, post_id).get("sent", 0) == SENDS:
                    break
        stop.set()
        await runner
        await pacer.aclose()
        await channel.aclose()

    asyncio.run(run())
    calls = world.stats()["calls"]
    requests = sum(calls.values())
    throttled = calls.get("130429", 0)
    # 0.5 % of 160 requests is under one: one throttled answer (a late wake-up on a loaded
    # test machine) is let pass here; the 8,000-ASN run in bench/ holds the bound itself.
    assert throttled <= max(1, 0.005 * requests), calls
    with session_scope(engine, readonly=True) as session:
        assert status_counts(session, post_id).get("sent", 0) == SENDS
        rate, _ = current_pace(session, "whatsapp")
    if not throttled:  # it ran at the WhatsApp pace, not below it
        assert rate == pytest.approx(RATE * cap_for("whatsapp", RATE))
    accepted = world.accepted_times()
    assert len(accepted) == SENDS
    span = accepted[-1] - accepted[0]
    assert (SENDS - 1) / span <= RATE  # never faster than the number's limit on average
