"""python-telegram-bot's requests paced by the same ``Pacer`` as the broadcaster.

One bot has one rate at Telegram, whoever sends: replies, edits, admin notices and broadcasts
draw on the same slots and the same flood wait. A 429 is waited out and retried, never dropped.
Replies go before broadcast messages, keyboard redraws after them (``bot.ratelimit.Priority``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.channels.wire import Withheld, may_write
from bot.ratelimit import Pacer, Priority

log = logging.getLogger("gaung.telegram")
T = TypeVar("T")

# Methods that Telegram counts as messages; the rest (answers, getMe, webhooks) are not paced.
PACED = {
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "copyMessage",
    "forwardMessage",
}
# Redrawing a keyboard can wait; everything else PTB sends answers someone who just wrote.
REDRAWS = {"editMessageReplyMarkup"}
MAX_RETRIES = 5
# Messages of this process on the wire at once, at most. Under a flood wait every request
# already sent is refused too, and under the strictest assumption (each send during a wait
# lengthens it) each one adds a second: measured beside a broadcast on a loaded machine, where
# the answers came slowly, 55 requests were on the wire when the first 429 came back and the
# bot waited 55 s. Ten leave room for 30/s at Telegram's usual 0.1-0.3 s round trip.
MAX_IN_FLIGHT = 10


def retry_seconds(exc: RetryAfter) -> float:
    """PTB 22 warns that ``retry_after`` becomes a timedelta; accept either, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class PacerRateLimiter(BaseRateLimiter[None]):
    def __init__(self, pacer: Pacer, *, in_flight: int = MAX_IN_FLIGHT) -> None:
        self.pacer = pacer
        self._on_the_wire = asyncio.Semaphore(in_flight)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        priority = Priority.REDRAW if endpoint in REDRAWS else Priority.REPLY
        for attempt in range(MAX_RETRIES + 1):
            try:
                if endpoint not in PACED:
                    return await callback(*args, **kwargs)
                return await self._paced(
                    lambda: callback(*args, **kwargs),
                    str(chat) if chat is not None else None,
                    priority,
                )
            except RetryAfter as exc:
                self.pacer.on_rate_limited(retry_seconds(exc))
                if attempt == MAX_RETRIES:
                    raise
            except BadRequest as exc:
                if endpoint == "answerCallbackQuery" and "query is too old" in exc.message.lower():
                    # The person's app has stopped waiting; what the button asked for (a tap,
                    # an admin's decision) must still be done, so this is no error.
                    log.info("callback query answered too late: %s", exc.message)
                    return False
                raise
        raise AssertionError("unreachable")

    async def _paced(
        self, request: Callable[[], Coroutine[Any, Any, T]], chat: str | None, priority: Priority
    ) -> T:
        """Send at this process's slot, with at most ``MAX_IN_FLIGHT`` messages on the wire.

        The slot comes first (a reply waiting for the wire must not keep one from the next
        reply); a send that then waited for the wire while a flood wait began, or longer than
        its slot allows (``Pacer.still_on_time``: sends held back together by a full wire
        would leave together, more in a second than the limit), takes a new slot. The same
        question is asked again right before httpx hands the request to its connection
        (``withhold_late``): between the two, python-telegram-bot builds the request on a
        loop that also serves every webhook, and replies held up there left together, 3
        within 24 ms, and earned a 429 (a second's wait for the whole bot) beside a broadcast.
        """
        while True:
            released = await self.pacer.acquire(chat, priority)
            async with self._on_the_wire:
                if self.pacer.paused_for() > 0 or not self.pacer.still_on_time(released):
                    continue
                gate = may_write.set(functools.partial(_still_on_time, self.pacer, released))
                try:
                    return await request()
                except NetworkError as exc:
                    if not isinstance(exc.__cause__, Withheld):
                        raise
                    self.pacer.retaken += 1
                finally:
                    may_write.reset(gate)


def _still_on_time(pacer: Pacer, released: float, _backlog: float) -> bool:
    return pacer.still_on_time(released)


async def withhold_late(request: httpx.Request) -> None:
    """httpx's request hook: the last moment before a request goes to its connection. A paced
    send that is no longer on time (``bot.channels.wire.may_write``) is not written."""
    gate = may_write.get()
    if gate is not None and not gate(0.0):
        raise Withheld
