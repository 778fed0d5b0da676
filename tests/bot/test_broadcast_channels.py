"""A post to people on two channels goes out on both at once, each at its own pace.

One worker with Telegram (fast) and WhatsApp (slow), against both emulators, on SQLite and
PostgreSQL. The WhatsApp deliveries are due first in the outbox and are many: with one window of
claimed sends for the whole worker they filled it, and Telegram waited behind them (one
channel after the other). Each channel has its own window now: Telegram's people are all sent
while WhatsApp's are still going out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import select

from bot.broadcast import Broadcaster, WorkerConfig
from bot.channels.telegram import TelegramChannel
from bot.emulators.telegram import TelegramEmulator
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.whatsapp.sender import WhatsAppChannel
from bot.whatsapp.tier import TierLimitedChannel
from db.engine import session_scope
from db.models import ChatIdentity, Delivery, DeliveryStatus, table
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.factories import add_asn, register

WA_PEOPLE, TG_PEOPLE = 200, 30
WA_RATE, TG_RATE = 10.0, 200.0
FAST = WorkerConfig(idle_poll=0.05, heartbeat_interval=0.2, flush_interval=0.01)


@pytest.fixture
def wa() -> Iterator[WhatsAppEmulator]:
    with WhatsAppEmulator(Limits(rate=1000, messaging_limit=None)) as emulator:
        yield emulator


def test_both_channels_send_at_once(
    engine: Engine, tg: TelegramEmulator, wa: WhatsAppEmulator
) -> None:
    with session_scope(engine) as session:
        for wa_id in wa.world.add_users(WA_PEOPLE):  # first in the outbox
            register(session, add_asn(session), channel="whatsapp", external_id=wa_id)
        for n in range(TG_PEOPLE):
            user = tg.world.add_user(f"ASN {n}", started=True)
            register(session, add_asn(session), external_id=str(user.id))
        session.connection().execute(update(table(ChatIdentity)).values(last_inbound_at=None))
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/dua")
        assert post.id is not None
        post_id = post.id
        approve_post(session, post_id)
        delivery = table(Delivery)
        session.connection().execute(  # WhatsApp's due first: first in the claims' order
            update(delivery)
            .where(delivery.c.channel == "whatsapp")
            .values(next_attempt_at=utcnow() - timedelta(minutes=1))
        )

    def sent_by_channel() -> dict[str, int]:
        with session_scope(engine, readonly=True) as session:
            rows = session.exec(select(Delivery).where(Delivery.post_id == post_id)).all()
            counts = {"telegram": 0, "whatsapp": 0}
            for row in rows:
                counts[row.channel] += row.status == DeliveryStatus.SENT
            return counts

    async def run() -> dict[str, int]:
        channels = {
            "telegram": TelegramChannel(tg.token, tg.url),
            "whatsapp": WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url),
        }
        rates = {"telegram": TG_RATE, "whatsapp": WA_RATE}
        worker = Broadcaster(engine, channels, rates, config=FAST)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 30
        counts = sent_by_channel()
        while counts["telegram"] < TG_PEOPLE and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            counts = await asyncio.to_thread(sent_by_channel)
        stop.set()
        await runner
        for channel in channels.values():
            await channel.aclose()
        return counts

    at_telegram_done = asyncio.run(run())
    assert at_telegram_done["telegram"] == TG_PEOPLE
    # With one window for both, Telegram waited for ~40 WhatsApp sends first (measured).
    assert at_telegram_done["whatsapp"] < 25, at_telegram_done


def test_the_whatsapp_tier_reserves_each_claimed_batch_at_once(
    engine: Engine, wa: WhatsAppEmulator
) -> None:
    """At 50/s the sends come 20 ms apart: reserving each one's reach alone was a transaction
    per template (and a count of the day's reach each). The claimed batch reserves at once:
    its deliveries share one ``template_at`` (one transaction's moment)."""
    count = 60
    with session_scope(engine) as session:
        for wa_id in wa.world.add_users(count):
            register(session, add_asn(session), channel="whatsapp", external_id=wa_id)
        session.connection().execute(update(table(ChatIdentity)).values(last_inbound_at=None))
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/tier")
        assert post.id is not None
        post_id = post.id
        approve_post(session, post_id)

    def rows() -> list[Delivery]:
        with session_scope(engine, readonly=True) as session:
            return list(session.exec(select(Delivery).where(Delivery.post_id == post_id)).all())

    async def run() -> None:
        sender = WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)
        channel = TierLimitedChannel(sender, engine, limit=10_000)
        worker = Broadcaster(engine, {"whatsapp": channel}, {"whatsapp": 50.0}, config=FAST)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            done = await asyncio.to_thread(rows)
            if all(r.status == DeliveryStatus.SENT for r in done):
                break
        stop.set()
        await runner
        await channel.aclose()

    asyncio.run(run())
    done = rows()
    assert all(r.status == DeliveryStatus.SENT for r in done)
    assert all(r.template_at is not None for r in done)
    # A claim takes about half a second of sends (26 here): a handful of transactions, not 60.
    assert len({r.template_at for r in done}) <= 5, {str(r.template_at) for r in done}


def test_an_approval_wakes_an_idle_worker_on_postgresql(
    engine: Engine, wa: WhatsAppEmulator
) -> None:
    """On PostgreSQL an approval wakes an idle worker (NOTIFY): it does not wait for its next
    claim (here 30 s away). SQLite has no such message: its workers claim every
    ``idle_poll``."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's LISTEN/NOTIFY")
    with session_scope(engine) as session:
        for wa_id in wa.world.add_users(3):
            register(session, add_asn(session), channel="whatsapp", external_id=wa_id)

    def approve() -> int:
        with session_scope(engine) as session:
            post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/bangun")
            assert post.id is not None
            approve_post(session, post.id)
            return post.id

    def first_sent(post_id: int) -> bool:
        with session_scope(engine, readonly=True) as session:
            rows = session.exec(select(Delivery).where(Delivery.post_id == post_id)).all()
            return any(r.status == DeliveryStatus.SENT for r in rows)

    async def run() -> float:
        channel = WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)
        config = WorkerConfig(idle_poll=30.0, heartbeat_interval=0.2)
        worker = Broadcaster(engine, {"whatsapp": channel}, {"whatsapp": 80.0}, config=config)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.3)  # its first claim found nothing: idle now
        began = time.monotonic()
        post_id = await asyncio.to_thread(approve)
        while time.monotonic() < began + 20:
            if await asyncio.to_thread(first_sent, post_id):
                break
            await asyncio.sleep(0.02)
        took = time.monotonic() - began
        stop.set()
        await runner
        await channel.aclose()
        return took

    took = asyncio.run(run())
    assert took < 5.0, took  # without the wake-up: the next claim, 30 s after the last
