"""``hapus`` on WhatsApp leaves the person's number nowhere but the roster, not even inside
WhatsApp's own message ids (issue 12).

A Cloud API message id is ``wamid.`` and base64 over a record holding the user's number, so
an id kept as it came (the inbox's redelivery guard keeps them for the retention period)
keeps the number of someone who erased their data. The real service, fed what Meta's webhook
carries for one person: a broadcast's status, their messages, their ``hapus`` and its *Ya*.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot.conversation import choices
from bot.conversation.notifier import Notifier
from bot.emulators.whatsapp import WhatsAppEmulator
from bot.ratelimit import Pacer
from bot.whatsapp.sender import WhatsAppChannel, tracker
from bot.whatsapp.service import WhatsAppService
from bot.whatsapp.webhook import parse_body
from db.delivery.outbox import mark_sent
from db.engine import session_scope
from db.models import Asn, Delivery, DeliveryStatus
from db.posts.lifecycle import approve_post, submit_post
from db.settings import Settings
from db.types import utcnow
from tests.bot.conversation.test_whatsapp_privacy import places_naming
from tests.factories import add_asn, delivery_of, register

NUMBER = "6281234567891"


def wamid(number: str, n: int) -> str:
    """A message id shaped as the Cloud API's: the number inside, then the message's own."""
    record = b"\x1c\x18" + bytes([len(number)]) + number.encode() + b"\x15\x02\x00\x11\x18\x12"
    return "wamid." + base64.b64encode(record + f"{n:018X}".encode() + b"\x00").decode()


def body(
    *, messages: Sequence[dict[str, Any]] = (), statuses: Sequence[dict[str, Any]] = ()
) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "1"},
        "contacts": [{"wa_id": NUMBER, "profile": {"name": "Budi"}}],
        "messages": list(messages),
        "statuses": list(statuses),
    }
    entry = {"id": "1", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def text(n: int, said: str) -> dict[str, Any]:
    return {
        "from": NUMBER,
        "id": wamid(NUMBER, n),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": said},
    }


def test_hapus_on_whatsapp_leaves_no_message_id_that_carries_the_number(
    database_url: str, engine: Engine, wa: WhatsAppEmulator
) -> None:
    wa.world.add_user("Budi", wa_id=NUMBER, in_window=True)
    with session_scope(engine) as session:
        asn = add_asn(session, opd="DINKES", phone=f"+{NUMBER}")
        register(session, asn, channel="whatsapp", external_id=NUMBER)
        post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/hapus")
        assert post.id is not None
        approve_post(session, post.id, now=utcnow())
        delivery = delivery_of(session, post.id, asn)
        mark_sent(session, delivery, wamid(NUMBER, 1))
        assert delivery.id is not None and asn.id is not None
        delivery_id, asn_id = delivery.id, asn.id
    status = {
        "id": wamid(NUMBER, 1),
        "status": "delivered",
        "timestamp": str(int(time.time())),
        "recipient_id": NUMBER,
        "biz_opaque_callback_data": tracker(delivery_id),
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"},
    }
    yes = {
        "from": NUMBER,
        "id": wamid(NUMBER, 4),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": choices.encode(choices.ERASE, choices.YES), "title": "Ya"},
        },
    }
    settings = Settings(
        database_url=database_url,
        whatsapp_token=wa.token,
        whatsapp_phone_id=wa.phone_id,
        whatsapp_api_url=wa.url,
    )
    ids = [wamid(NUMBER, n) for n in (1, 2, 3, 4)]

    async def run() -> None:
        sender = WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)
        service = WhatsAppService(settings, engine, sender, Pacer(1000), Notifier(engine))
        await service.start()
        try:
            for step in (
                body(statuses=[status]),
                body(messages=[text(2, "status")]),
                body(messages=[text(3, "hapus")]),
            ):
                await service.receive(parse_body(step))
                await asyncio.sleep(0.3)  # each answered before the next, as a person waits
            await service.receive(parse_body(body(messages=[yes])))
        finally:
            await service.stop()

    asyncio.run(run())
    record = base64.b64encode(b"\x1c\x18\x0d" + NUMBER.encode()).decode()[:16]
    assert record in ids[0]  # what a plain search for the number would miss
    with session_scope(engine, readonly=True) as session:
        roster = session.get(Asn, asn_id)
        assert roster is not None and roster.erased_at is not None  # the Ya went through
        assert roster.phone == f"+{NUMBER}"
        sent = session.get(Delivery, delivery_id)
        assert sent is not None and sent.status == DeliveryStatus.SENT and sent.billable
    with Session(engine) as session:
        assert places_naming(session, NUMBER, record, *ids) == []
