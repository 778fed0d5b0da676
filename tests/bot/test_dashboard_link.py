"""The bot's /dashboard: a sign-in link sent without a preview (Telegram's servers must not
fetch it), which signs in once, by a POST, on the running ``gaung serve``."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import Engine

from bot.emulators.telegram import TelegramEmulator
from db.accounts.admins import add_admin
from db.engine import session_scope
from tests.bot.conftest import BotProcess, Chat


# Signing in (the one-time token) is the database's: the webhook run on both engines. Long
# polling only sends the link, which is the same whatever the engine: once.
@pytest.mark.parametrize(
    ("database_url", "running_bot"),
    [("sqlite", "webhook"), ("postgresql", "webhook"), ("sqlite", "polling")],
    indirect=True,
)
def test_the_dashboard_link_has_no_preview_and_works_once(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    staff = Chat(tg, "Staf")
    with session_scope(engine) as session:
        add_admin(session, role="diskominfo", telegram_id=staff.id, name="Staf")
    reply = staff.say("/dashboard")
    assert reply.data["link_preview_options"] == {"is_disabled": True}
    found = re.search(r"(http://\S+/dashboard/masuk\?token=(\S+))", reply.text)
    assert found, reply.text
    url, token = found.groups()
    if running_bot.transport != "webhook":
        return  # ``gaung bot`` serves no HTTP; the webhook run signs in below
    signs_in_once(url, token, f"http://127.0.0.1:{running_bot.port}")


def signs_in_once(url: str, token: str, server: str) -> None:
    """A browser on ``server`` given the link ``url``: opening it (as a link preview would)
    signs nobody in; its form's POST does, once, and the dashboard opens."""
    origin = {"Origin": server}
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and "set-cookie" not in page.headers
        exchange = url.split("?")[0] + "/tautan"
        signed = browser.post(exchange, data={"token": token}, headers=origin)
        assert signed.status_code == 303 and "gaung_sesi=" in signed.headers["set-cookie"]
        assert browser.get(f"{server}/dashboard").status_code == 200
        again = browser.post(exchange, data={"token": token}, headers=origin)
        assert again.status_code == 401
