"""Running the Telegram bot inside ``gaung serve`` (webhook) or ``gaung bot`` (long polling).

Webhook updates go through the inbox (``db.inbox``): stored before Telegram gets its 200, so a
crash loses none, and keyed by ``update_id``, so Telegram's redeliveries are handled once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine
from telegram import Update
from telegram.ext import Application

from bot.ratelimit import Pacer
from bot.telegram.application import build_application, set_commands
from db.engine import session_scope
from db.inbox import mark_handled, store_update, unhandled
from db.settings import Settings

log = logging.getLogger("gaung.telegram")
CHANNEL = "telegram"
WEBHOOK_PATH = "/webhook/telegram"


class TelegramService:
    def __init__(self, settings: Settings, engine: Engine, pacer: Pacer) -> None:
        self.settings = settings
        self.engine = engine
        self.application: Application = build_application(settings, engine, pacer)  # type: ignore[type-arg]
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.application.initialize()
        await self.application.start()
        try:
            await set_commands(self.application)
        except Exception:  # the menu is a nicety; never block start-up on it
            log.exception("setMyCommands failed")
        if self.settings.public_url and self.settings.telegram_webhook_secret:
            await self.application.bot.set_webhook(
                url=f"{self.settings.public_url}{WEBHOOK_PATH}",
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        leftovers = await asyncio.to_thread(self._unhandled)
        for update_id, payload in leftovers:
            self._spawn(update_id, payload)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.application.stop()
        await self.application.shutdown()

    async def receive(self, payload: dict[str, Any]) -> bool:
        """Store the update durably, then handle it in the background. False: a duplicate."""
        update_id = str(payload["update_id"])
        new = await asyncio.to_thread(self._store, update_id, payload)
        if new:
            self._spawn(update_id, payload)
        return new

    def _spawn(self, update_id: str, payload: dict[str, Any]) -> None:
        task = asyncio.create_task(self._handle(update_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, update_id: str, payload: dict[str, Any]) -> None:
        try:
            update = Update.de_json(payload, self.application.bot)
            await self.application.process_update(update)
        except Exception:
            log.exception("update %s failed", update_id)
        await asyncio.to_thread(self._mark, update_id)

    def _store(self, update_id: str, payload: dict[str, Any]) -> bool:
        with session_scope(self.engine) as session:
            return store_update(session, CHANNEL, update_id, payload)

    def _mark(self, update_id: str) -> None:
        with session_scope(self.engine) as session:
            mark_handled(session, CHANNEL, update_id)

    def _unhandled(self) -> list[tuple[str, dict[str, Any]]]:
        with session_scope(self.engine) as session:
            return unhandled(session, CHANNEL)
