"""Admin notices on WhatsApp outside the 24-hour window go as the approved utility template.

Free-form text to someone who has not written for a day is accepted by Meta and then fails
(131047). The notifier's WhatsApp outbound, against the emulated Cloud API and a real database
(SQLite and PostgreSQL): an admin whose window is closed gets ``gaung_pemberitahuan`` with the
notice as its one parameter, delivered; an admin who wrote an hour ago gets the notice with its
buttons, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import aclosing
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bot.conversation.notifier import Notifier
from bot.conversation.replies import Address, Button, Notice, Reply
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.ratelimit import Pacer
from bot.texts import Markup
from bot.whatsapp.render import WhatsAppOutbound
from bot.whatsapp.sender import WhatsAppChannel, template_text
from db.engine import session_scope
from db.types import utcnow
from tests.factories import add_asn, register

NOTICE = Reply(
    Markup("Permintaan NIP baru dari <b>Sari</b>\nOPD: DINKES\n\n\tSetujui?"),
    buttons=((Button("Setujui", data="r1:5:a"), Button("Tolak", data="r1:5:r")),),
)


@pytest.fixture
def wa() -> Iterator[WhatsAppEmulator]:
    with WhatsAppEmulator(Limits(rate=1000, messaging_limit=None)) as emulator:
        yield emulator


def admin(engine: Engine, wa_id: str, *, wrote_hours_ago: float | None) -> Address:
    with session_scope(engine) as session:
        identity = register(
            session, add_asn(session, opd="DINKES"), channel="whatsapp", external_id=wa_id
        )
        identity.last_inbound_at = (
            None if wrote_hours_ago is None else utcnow() - timedelta(hours=wrote_hours_ago)
        )
        session.add(identity)
    return Address("whatsapp", wa_id, wa_id)


def tell(engine: Engine, wa: WhatsAppEmulator, *addresses: Address) -> int:
    async def run() -> int:
        async with aclosing(WhatsAppChannel(wa.token, wa.phone_id, api_url=wa.url)) as sender:
            notifier = Notifier(engine)
            notifier.add("whatsapp", WhatsAppOutbound(sender, Pacer(1000), engine=engine))
            return await notifier.tell(Notice(a, NOTICE) for a in addresses)

    return asyncio.run(run())


def test_closed_window_notice_goes_as_the_notice_template(
    engine: Engine, wa: WhatsAppEmulator
) -> None:
    closed_id, open_id, stale_id = wa.world.add_users(3)
    wa.world.say(open_id, "halo")  # opens the window in the emulator as in our database
    closed = admin(engine, closed_id, wrote_hours_ago=None)
    opened = admin(engine, open_id, wrote_hours_ago=1)
    stale = admin(engine, stale_id, wrote_hours_ago=30)  # wrote, but more than a day ago

    assert tell(engine, wa, closed, opened, stale) == 3

    for wa_id in (closed_id, stale_id):
        (got,) = wa.world.messages(wa_id)
        assert got.type == "template" and got.error is None, (got.type, got.error)
        assert got.payload["name"] == "gaung_pemberitahuan"
        assert got.pricing["category"] == "utility"
        text = got.text()
        assert text.startswith("Pemberitahuan dari Gaung: Permintaan NIP baru dari *Sari*")
        assert "\n" not in text.removeprefix("Pemberitahuan dari Gaung: ")
        assert "Setujui, Tolak" in text  # the choices are named, since buttons cannot go
    (inside,) = wa.world.messages(open_id)
    assert inside.type == "interactive" and inside.error is None
    assert [b["title"] for b in inside.buttons()] == ["Setujui", "Tolak"]
    assert wa.world.stats()["calls"].get("131047", 0) == 0


def test_a_template_parameter_never_carries_line_breaks_tabs_or_long_spaces() -> None:
    flat = template_text("a\n\n b\tc      d\r\ne")
    assert flat == "a · b c d · e"
    assert len(template_text("x" * 2000)) == 900
