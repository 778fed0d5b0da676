"""A post a feed produced reaches its OPD's admins through the worker's notifier, on the
channels they have (Telegram here, through the emulator), its text escaped."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlmodel import Session

from api.broadcasting import feed_notice
from bot.channels.registry import build_registry
from bot.emulators.telegram.runner import TelegramEmulator
from bot.feeds import WaitingNotice
from db.accounts.admins import add_admin
from db.settings import Settings
from tests.factories import add_asn


def test_the_worker_tells_an_opds_admins_that_a_feed_post_waits(
    database_url: str, engine: Engine
) -> None:
    with TelegramEmulator() as tg:
        admin_user = tg.world.add_user("Admin Dinkes", started=True)
        with Session(engine) as session:
            add_asn(session, opd="DINKES")
            admin, _ = add_admin(
                session, role="opd", opd_kode="DINKES", telegram_id=admin_user.id, actor="uji"
            )
            session.commit()
            assert admin.id is not None and admin.opd_id is not None
            notice = WaitingNotice(7, admin.opd_id, (admin.id,), "Postingan #7 <Dinkes> menunggu")
        settings = Settings(
            database_url=database_url, telegram_token=tg.token, telegram_api_url=tg.url
        )

        async def run() -> None:
            registry = build_registry(settings, engine)
            try:
                await feed_notice(engine, await registry.notifier())(notice)
            finally:
                await registry.aclose()

        asyncio.run(run())
        [message] = tg.world.messages(admin_user.id)
        assert message.text == "Postingan #7 <Dinkes> menunggu"  # sent as HTML, shown as typed
