"""An admin on WhatsApp asks for the dashboard (``dashboard``): the link comes without a
preview and signs in once, by a POST, exactly as the Telegram one does (issue 12; see
``tests/bot/test_dashboard_link.py``). A real ``gaung serve --worker`` and the emulated Cloud
API, on both databases."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from bot.emulators.whatsapp import WhatsAppEmulator
from db.accounts.admins import add_admin
from db.engine import session_scope
from tests.bot.test_dashboard_link import signs_in_once
from tests.bot.test_whatsapp_bot import Person, Serve, serve, wa

__all__ = ["serve", "wa"]  # the fixtures, imported for this module's tests


def test_the_dashboard_link_on_whatsapp_has_no_preview_and_works_once(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    staff = Person(wa, "Diskominfo", wa_id="6281299900777")
    with session_scope(engine) as session:
        add_admin(session, role="diskominfo", phone="+6281299900777", name="Kominfo")
    sent = staff.say("dashboard")
    assert sent.type == "text" and sent.payload.get("preview_url") is False
    found = re.search(r"(http://\S+/dashboard/masuk\?token=(\S+))", sent.text())
    assert found, sent.text()
    url, token = found.groups()
    signs_in_once(url, token, serve.url)
