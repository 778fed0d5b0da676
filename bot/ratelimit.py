"""Pacing sends to a channel's rate, per bot and per chat, with a shared flood wait.

Sends are spaced evenly (a slot every 1/rate s) rather than in bursts: Telegram's limits are
flexible but a steady stream at the rate never trips them, and a 429 costs far more time than
the pacing does. After a 429 the rate drops and climbs back as sends succeed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

MIN_FACTOR = 0.5


class Pacer:
    def __init__(
        self,
        rate: float,
        *,
        per_chat_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._share = 1.0
        self._factor = 1.0
        self._next = 0.0
        self._paused_until = 0.0
        self._per_chat = per_chat_interval
        self._chat_next: dict[str, float] = {}
        self._clock = clock

    @property
    def rate(self) -> float:
        return self._rate * self._share * self._factor

    def set_share(self, workers: int) -> None:
        """Several workers split one channel's rate between them."""
        self._share = 1.0 / max(1, workers)

    def pause_until(self, moment: float) -> None:
        self._paused_until = max(self._paused_until, moment)

    def pause(self, seconds: float) -> None:
        self.pause_until(self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def backlog(self) -> float:
        """Seconds of slots already promised (or of flood wait): how busy the bot is now."""
        now = self._clock()
        return max(0.0, self._next - now, self._paused_until - now)

    def on_rate_limited(self, retry_after: float) -> None:
        self.pause(retry_after)
        self._factor = max(MIN_FACTOR, self._factor * 0.8)

    def on_success(self) -> None:
        if self._factor < 1.0:
            self._factor = min(1.0, self._factor + 0.005)

    async def acquire(self, chat_id: str | None = None) -> None:
        """Wait for this send's slot; a flood wait that starts meanwhile is honoured too."""
        while True:
            now = self._clock()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            slot = max(now, self._next)
            if chat_id is not None:
                ready = self._chat_next.get(chat_id, 0.0)
                if ready > slot:
                    # Wait for this chat without holding a bot-wide slot: other chats go on.
                    await asyncio.sleep(ready - now)
                    continue
                self._chat_next[chat_id] = slot + self._per_chat
                if len(self._chat_next) > 50_000:
                    self._forget_old(now)
            self._next = slot + 1.0 / self.rate
            if slot > now:
                await asyncio.sleep(slot - now)
            if self._clock() >= self._paused_until:
                return

    def _forget_old(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
