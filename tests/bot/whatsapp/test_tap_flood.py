"""A flood of taps on WhatsApp: each tap is recorded once, and the acknowledgements Gaung
sends back (on WhatsApp a message each, not a toast) keep to the person's message allowance.

The real service (``bot.whatsapp.service``) against the emulated Cloud API and a real
database, fed the events a webhook would carry: one person pressing Like again and again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.conversation.notifier import Notifier
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.ratelimit import Pacer
from bot.whatsapp.sender import WhatsAppChannel
from bot.whatsapp.service import WhatsAppService
from bot.whatsapp.webhook import parse_body
from db.delivery.outbox import mark_sent
from db.engine import session_scope
from db.models import Confirmation
from db.posts.lifecycle import approve_post, submit_post
from db.settings import Settings
from db.types import utcnow
from tests.factories import add_asn, delivery_of, register


@pytest.fixture
def wa() -> Iterator[WhatsAppEmulator]:
    with WhatsAppEmulator(Limits(rate=1000, pair_rate=50, pair_burst=50)) as emulator:
        yield emulator


def presses(wa_id: str, delivery: int, count: int) -> bytes:
    now = str(int(time.time()))
    messages = [
        {
            "from": wa_id,
            "id": f"wamid.tap{n}",
            "timestamp": now,
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": f"g1:{delivery}:l", "title": "Suka"},
            },
        }
        for n in range(count)
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "1"},
        "contacts": [{"wa_id": wa_id, "profile": {"name": "Budi"}}],
        "messages": messages,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def test_a_tap_flood_is_recorded_once_and_acknowledged_within_the_allowance(
    database_url: str, engine: Engine, wa: WhatsAppEmulator
) -> None:
    (wa_id,) = wa.world.add_users(1)
    wa.world.say(wa_id, "halo")  # the window is open: acknowledgements go as free text
    with session_scope(engine) as session:
        asn = add_asn(session, opd="DINKES")
        register(session, asn, channel="whatsapp", external_id=wa_id)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/banjir")
        assert post.id is not None
        approve_post(session, post.id, now=utcnow())
        delivery = delivery_of(session, post.id, asn)
        mark_sent(session, delivery, "wamid.post")
        assert delivery.id is not None
        delivery_id = delivery.id
    settings = Settings(
        database_url=database_url,
        whatsapp_token=wa.token,
        whatsapp_phone_id=wa.phone_id,
        whatsapp_api_url=wa.url,
        chat_messages_per_minute=3,
    )

    async def run() -> None:
        sender = WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)
        service = WhatsAppService(settings, engine, sender, Pacer(1000), Notifier(engine))
        await service.start()
        try:
            for event in parse_body(presses(wa_id, delivery_id, 12)):
                await service.receive([event])
        finally:
            await service.stop()

    asyncio.run(run())
    with session_scope(engine, readonly=True) as session:
        taps = session.exec(select(Confirmation).where(Confirmation.delivery_id == delivery_id))
        assert len(list(taps)) == 1  # recorded once
    answers = [m.text() for m in wa.world.messages(wa_id)]
    # Three acknowledgements, one polite word, then silence: not twelve messages.
    assert len(answers) == 4, answers
    assert "terlalu cepat" in answers[-1]
