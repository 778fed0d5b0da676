"""Issue 12's channel faults during a broadcast, on WhatsApp (the seconds version of
bench/faults.py's Telegram rows): 5xx bursts, dropped connections, answers lost after the
message went, slow answers past the client's timeout and a 429 storm, all met by one
broadcast. Every delivery ends sent (or failed with its reason), no one is left without the
post, and no one gets it twice but for the sends whose answer never came (in flight).
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine

from bot.broadcast import Broadcaster
from bot.emulators.whatsapp import WhatsAppEmulator
from bot.whatsapp.sender import WhatsAppChannel
from db.engine import session_scope
from db.models import DeliveryStatus
from tests.bot.test_broadcast import FAST, approve, deliveries
from tests.factories import add_asn, register

PEOPLE = 40
OPEN = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
# kind, how many calls meet it, options: each burst in a row, as the network has them
FAULTS: list[tuple[str, int, dict[str, float]]] = [
    ("error", 5, {"status": 503}),
    ("drop", 3, {}),
    ("lost", 3, {}),  # sent, but the answer never arrives: in flight
    ("slow", 2, {"delay": 1.5}),  # past the client's timeout, then sent: in flight
    ("error", 6, {"status": 429}),
]


def test_a_broadcast_through_faults_loses_no_one_and_repeats_only_what_was_in_flight(
    engine: Engine, wa: WhatsAppEmulator
) -> None:
    with session_scope(engine) as session:
        for wa_id in wa.world.add_users(PEOPLE, in_window=True):
            register(session, add_asn(session), channel="whatsapp", external_id=wa_id)
    post_id = approve(engine)
    for kind, count, options in FAULTS:
        wa.world.inject_fault(kind, count=count, **options)  # type: ignore[arg-type]

    async def run() -> None:
        channel = WhatsAppChannel(
            wa.token, wa.phone_id, api_url=wa.url, timeout=0.5, account_wait=0.2
        )
        worker = Broadcaster(engine, {"whatsapp": channel}, {"whatsapp": 200}, config=FAST)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + 60
        try:
            while any(d.status in OPEN for d in deliveries(engine, post_id)):
                assert time.monotonic() < deadline, "the broadcast did not end"
                assert not runner.done(), "the worker stopped"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await runner
            await channel.aclose()

    asyncio.run(run())
    assert not wa.world.faults, "every injected fault was met"
    ended = deliveries(engine, post_id)
    assert len(ended) == PEOPLE
    assert all(d.status == DeliveryStatus.SENT for d in ended), [
        (d.status, d.error) for d in ended if d.status != DeliveryStatus.SENT
    ]
    counts = wa.world.delivered_counts()
    assert len(counts) == PEOPLE  # none lost: everyone has the post
    in_flight = sum(count for kind, count, _ in FAULTS if kind in ("lost", "slow"))
    twice = sum(n - 1 for n in counts.values())
    assert twice <= in_flight, (twice, in_flight)
