"""Running the Telegram bot inside ``gaung serve`` (webhook) or ``gaung bot`` (long polling).

Webhook updates go through the inbox (``bot.inbox``): stored before Telegram gets its 200, so
a crash loses none, and keyed by ``update_id``, so Telegram's redeliveries are handled once.
A Like/Share tap is recorded in that same commit and answered in the webhook's response
(Telegram runs a method given there), so a tap costs one transaction shared with its batch
and no request of ours; its buttons are redrawn later at the paced rate (``ButtonRedrawer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from bot.channels import backlog
from bot.channels.links import open_links_for
from bot.conversation.choices import parse_tap
from bot.conversation.notifier import Notifier
from bot.conversation.taps import tap_answer
from bot.inbox import InboxWriter, Incoming
from bot.ratelimit import Pacer
from bot.telegram.application import build_application, set_commands
from bot.telegram.buttons import ButtonRedrawer
from bot.telegram.common import CHANNEL
from db.delivery.confirmations import Tap
from db.settings import Settings

log = logging.getLogger("gaung.telegram")
WEBHOOK_PATH = "/webhook/telegram"
POLL_SECONDS = 3  # a short long-poll keeps shutdown quick: stopping waits for the poll
# Telegram sends at most this many updates at once, each waiting a round trip to the regency's
# server (~0.1-0.2 s from Telegram's data centres): 100, the most allowed, lets through ~500-1,000
# taps a second where the default 40 would stop near 200-400.
WEBHOOK_CONNECTIONS = 100
RECONNECT_FIRST, RECONNECT_CAP = 2.0, 60.0  # seconds between tries to reach the Bot API


class TelegramService:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        pacer: Pacer,
        *,
        polling: bool = False,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.polling = polling
        self.application: Application = build_application(  # type: ignore[type-arg]
            settings, engine, pacer, polling=polling, notifier=notifier
        )
        self.redrawer = ButtonRedrawer(
            engine, self.application.bot, pacer, open_links=open_links_for(settings)
        )
        self.application.bot_data["redraw"] = self.redrawer.wake
        # Shared with the other channels, so notices reach admins wherever they are.
        self.notifier: Notifier = self.application.bot_data["notifier"]
        self.inbox = InboxWriter(engine, redraw=frozenset({CHANNEL}), on_redraw=self.redrawer.wake)
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry: asyncio.Task[None] | None = None
        self.health = "degraded"  # ok · degraded (not connected yet, retrying) · down (bad token)
        self.problem: str | None = "connecting"

    async def start(self) -> None:
        """Connect to the Bot API, or keep trying in the background.

        Telegram being unreachable must not take the API and the dashboard down with it: until
        the bot connects, ``health`` says so (``/healthz`` reports the channel) and webhook
        updates are answered 503, which Telegram retries.
        """
        try:
            await self._connect()
        except TelegramError as exc:
            self._failed(exc)
            self._retry = asyncio.create_task(self._reconnect())

    def _failed(self, exc: TelegramError) -> None:
        self.health = "down" if isinstance(exc, InvalidToken) else "degraded"
        self.problem = f"{exc.__class__.__name__}: {exc}"
        log.warning("Bot API not reachable (%s); the bot connects when it is", self.problem)

    async def _reconnect(self) -> None:
        delay = RECONNECT_FIRST
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except TelegramError as exc:
                self._failed(exc)
                delay = min(RECONNECT_CAP, delay * 2)
            else:
                log.info("Bot API reachable again; the bot is connected")
                return

    async def _connect(self) -> None:
        """Reach the Bot API first (getMe, then the webhook or its removal) and start the local
        parts after, so that a failed try leaves nothing half-started for the next one."""
        application = self.application
        await application.initialize()
        if self.polling:
            await application.bot.delete_webhook()
        elif self.settings.public_url and self.settings.telegram_webhook_secret:
            await application.bot.set_webhook(
                url=f"{self.settings.public_url}{WEBHOOK_PATH}",
                secret_token=self.settings.telegram_webhook_secret,
                allowed_updates=Update.ALL_TYPES,
                max_connections=WEBHOOK_CONNECTIONS,
            )
        try:
            await set_commands(application)
        except Exception:  # the menu is a nicety; never block start-up on it
            log.exception("setMyCommands failed")
        if self.polling:
            assert application.updater is not None
            await application.updater.start_polling(
                allowed_updates=Update.ALL_TYPES, timeout=timedelta(seconds=POLL_SECONDS)
            )
        await application.start()
        self.redrawer.start()
        if not self.polling:
            self.inbox.start()
            for update_id, payload in await backlog.leftovers(self.engine, CHANNEL):
                self._spawn(update_id, payload)
        self.health, self.problem = "ok", None

    async def stop(self) -> None:
        application = self.application
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        await self.inbox.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redrawer.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    async def receive(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Store the update durably; a tap is recorded too and its answer returned for the
        webhook's response, anything else is handled in the background. None: nothing to
        say (a redelivery, or handling continues after the 200)."""
        update_id = str(payload["update_id"])
        tap = tap_of(payload)
        receipt = await self.inbox.submit(Incoming(CHANNEL, update_id, payload, tap))
        if not receipt.new:
            return None
        if receipt.tap is None:
            self._spawn(update_id, payload)
            return None
        return {
            "method": "answerCallbackQuery",
            "callback_query_id": payload["callback_query"]["id"],
            "text": tap_answer(receipt.tap),
            "show_alert": False,
        }

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
        await backlog.handled(self.engine, CHANNEL, update_id)


def tap_of(payload: dict[str, Any]) -> Tap | None:
    """The Like/Share tap in an update, if it is one and well formed (else the handlers,
    which answer anything odd, get it)."""
    query = payload.get("callback_query")
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        return None
    sender, data = query.get("from"), query.get("data")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        return None
    parsed = parse_tap(data) if isinstance(data, str) else None
    if parsed is None:
        return None
    delivery_id, kind = parsed
    return Tap(delivery_id, kind, str(sender["id"]))
