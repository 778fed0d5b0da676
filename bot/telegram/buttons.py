"""Redrawing a post message's buttons after a tap, at the bot's paced rate.

The tap is answered at once with a toast; the ✅ on the buttons follows from the queue in
``db.delivery.redraws``, because Telegram lets a bot edit only about 30 messages a second while a
regency's worth of ASN can tap far faster than that. Redraws share the bot's pace with
everything else it sends and give way to it: while a broadcast keeps the pacer busy, the posts
go out first and the ✅ follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import Engine
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.channels.links import OpenLinks
from bot.channels.telegram import post_keyboard
from bot.ratelimit import Pacer
from bot.telegram.common import CHANNEL
from db.delivery.redraws import Redraw, claim_redraws, finish_redraws, redraws_due
from db.engine import session_scope

log = logging.getLogger("gaung.telegram")
BATCH = 32
IDLE_SECONDS = 1.0  # how often to look for redraws queued by another process
YIELD_SECONDS = 0.5  # wait while the pacer has more than this promised to other sends


class ButtonRedrawer:
    def __init__(
        self,
        engine: Engine,
        bot: Bot,
        pacer: Pacer | None = None,
        open_links: OpenLinks | None = None,
    ) -> None:
        self.engine = engine
        self.bot = bot
        self.pacer = pacer
        # Redrawn buttons keep the tracked "open" link the message was sent with.
        self.open_links = open_links
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop at once: a claimed redraw's lease runs out and it is drawn later."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            busy = self.pacer.backlog() if self.pacer is not None else 0.0
            if busy > YIELD_SECONDS:  # posts and replies first
                await asyncio.sleep(busy)
                continue
            try:
                drawn = await self.pass_once()
            except Exception:
                log.exception("redrawing buttons failed")
                drawn = 0
            if not drawn:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
                self._wake.clear()

    async def pass_once(self) -> int:
        """Claim a batch, draw it; returns how many were claimed."""
        redraws = await asyncio.to_thread(self._claim)
        if not redraws:
            return 0
        drawn = await asyncio.gather(*(self._draw(r) for r in redraws))
        await asyncio.to_thread(
            self._finish, [r for r, ok in zip(redraws, drawn, strict=True) if ok]
        )
        return len(redraws)

    async def _draw(self, redraw: Redraw) -> bool:
        """True when done with it (drawn, or nothing left to draw on); False to try again."""
        if redraw.chat_id is None or redraw.message_id is None:
            return True
        open_url = self.open_links.url(redraw.delivery_id) if self.open_links else None
        markup = post_keyboard(redraw.delivery_id, redraw.url, redraw.confirmed, open_url=open_url)
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=redraw.chat_id,
                message_id=int(redraw.message_id),
                reply_markup=InlineKeyboardMarkup.de_json(markup, self.bot),
            )
        except (BadRequest, Forbidden) as exc:
            # Not modified, deleted, blocked: nothing a second try would change.
            if "not modified" not in exc.message.lower():
                log.info("buttons of delivery %s not redrawn: %s", redraw.delivery_id, exc)
        except TelegramError as exc:
            log.warning("buttons of delivery %s: %s; will retry", redraw.delivery_id, exc)
            return False
        return True

    def _claim(self) -> list[Redraw]:
        with session_scope(self.engine, readonly=True) as session:
            if not redraws_due(session, CHANNEL):
                return []
        with session_scope(self.engine) as session:
            return claim_redraws(session, CHANNEL, limit=BATCH)

    def _finish(self, done: list[Redraw]) -> None:
        with session_scope(self.engine) as session:
            finish_redraws(session, done)
