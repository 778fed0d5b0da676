"""Redrawing a post message's buttons after a tap, at the bot's paced rate.

The tap is answered at once with a toast; the ✅ on the buttons follows from the queue in
``db.delivery.redraws``, because Telegram lets a bot edit only about 30 messages a second while a
regency's worth of ASN can tap far faster than that. Redraws share the bot's pace with
everything else it sends and give way to it: while a broadcast keeps the pacer busy, the posts
go out first and the ✅ follow.

The redrawer runs inside ``gaung serve``, beside the webhook that takes the taps, so what a
redraw costs there is taken from the taps. Through python-telegram-bot each edit cost an
httpx request and a transaction of its own for the chat's turn (``PacerRateLimiter``): at the
bot's 30 edits a second, about a quarter of the server's CPU under a burst of 800 taps a
second, and on SQLite a writer the inbox's writer waited for. So when the Bot API is reached
directly, the edits go through the lean client the broadcaster uses (``bot.channels.wire``),
and the batch's chat turns are taken in the transaction that claims it; the edits still wait
for the chat's turn and the bot's slot (``Pacer``), at most ``WIRE`` of them on the wire, and a
429 still pauses every sender. Behind a proxy, python-telegram-bot draws them as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from sqlalchemy import Engine
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.channels.base import RateLimited, Rejected, SendError, Unreachable
from bot.channels.links import OpenLinks
from bot.channels.telegram import answer, post_keyboard
from bot.channels.wire import JsonPoster, direct
from bot.ratelimit import Pacer, Priority
from bot.telegram.common import CHANNEL
from bot.telegram.ratelimit import MAX_IN_FLIGHT, MAX_RETRIES
from db.delivery.pace import reserve_chat_slots
from db.delivery.redraws import Redraw, claim_redraws, finish_redraws, redraws_due
from db.engine import session_scope
from db.types import utcnow

log = logging.getLogger("gaung.telegram")
BATCH = 32
IDLE_SECONDS = 1.0  # how often to look for redraws queued by another process
YIELD_SECONDS = 0.5  # wait while the pacer has more than this promised to other sends
PER_CHAT_SECONDS = 1.0  # a chat's turn, as the pacer spaces replies (Telegram: about 1/s)
WIRE = MAX_IN_FLIGHT  # edits on the wire at once, as python-telegram-bot's sends


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
        self._wire = (
            JsonPoster(f"{bot.base_url}/", connections=WIRE) if direct(bot.base_url) else None
        )
        self._on_the_wire = asyncio.Semaphore(WIRE)
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
        if self._wire is not None:
            await self._wire.aclose()

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
        claimed = await asyncio.to_thread(self._claim)
        if not claimed:
            return 0
        drawn = await asyncio.gather(*(self._draw(r, wait) for r, wait in claimed))
        await asyncio.to_thread(
            self._finish, [r for (r, _), ok in zip(claimed, drawn, strict=True) if ok]
        )
        return len(claimed)

    async def _draw(self, redraw: Redraw, wait: float) -> bool:
        """True when done with it (drawn, or nothing left to draw on); False to try again.

        ``wait``: seconds until the chat's turn, taken with the claim (lean client only)."""
        if redraw.chat_id is None or redraw.message_id is None:
            return True
        open_url = self.open_links.url(redraw.delivery_id) if self.open_links else None
        markup = post_keyboard(redraw.delivery_id, redraw.url, redraw.confirmed, open_url=open_url)
        if self._wire is not None:
            if wait > 0:
                await asyncio.sleep(wait)
            return await self._edit(redraw, markup, self._wire)
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

    async def _edit(self, redraw: Redraw, markup: dict[str, Any], wire: JsonPoster) -> bool:
        """``editMessageReplyMarkup`` through the lean client, paced as ``PacerRateLimiter``
        paces python-telegram-bot's: the slot first, then the wire; a 429 pauses the bot."""
        body = json.dumps(
            {
                "chat_id": redraw.chat_id,
                "message_id": int(redraw.message_id or 0),
                "reply_markup": markup,
            }
        ).encode()
        for _ in range(MAX_RETRIES + 1):
            if self.pacer is not None:
                await self.pacer.acquire(None, Priority.REDRAW)  # the chat's turn is taken
            async with self._on_the_wire:
                if self.pacer is not None and self.pacer.paused_for() > 0:
                    continue  # a flood wait began while this one waited for the wire
                try:
                    answer(*await wire.post("editMessageReplyMarkup", body))
                except RateLimited as exc:
                    if self.pacer is not None:
                        self.pacer.on_rate_limited(exc.retry_after)
                    continue
                except (Unreachable, Rejected) as exc:
                    # Not modified, deleted, blocked: nothing a second try would change.
                    if "not modified" not in exc.reason.lower():
                        log.info("buttons of delivery %s not redrawn: %s", redraw.delivery_id, exc)
                    return True
                except (SendError, OSError) as exc:  # 5xx, timeouts, a bad token: later
                    log.warning(
                        "buttons of delivery %s: %s; will retry",
                        redraw.delivery_id,
                        type(exc).__name__,
                    )
                    return False
                return True
        return False

    def _claim(self) -> list[tuple[Redraw, float]]:
        """A batch of redraws, each with the seconds until its chat's turn: the turns are taken
        in the claim's transaction (one for the batch instead of one per edit)."""
        with session_scope(self.engine, readonly=True) as session:
            if not redraws_due(session, CHANNEL):
                return []
        with session_scope(self.engine) as session:
            redraws = claim_redraws(session, CHANNEL, limit=BATCH)
            if self._wire is None or self.pacer is None:  # python-telegram-bot takes the turns
                return [(r, 0.0) for r in redraws]
            drawable = [r for r in redraws if r.chat_id is not None and r.message_id is not None]
            waits = reserve_chat_slots(
                session,
                CHANNEL,
                [str(r.chat_id) for r in drawable],
                interval=PER_CHAT_SECONDS,
                now=utcnow(),
            )
            turns = dict(zip((r.delivery_id for r in drawable), waits, strict=True))
            return [(r, turns.get(r.delivery_id, 0.0)) for r in redraws]

    def _finish(self, done: list[Redraw]) -> None:
        with session_scope(self.engine) as session:
            finish_redraws(session, done)
