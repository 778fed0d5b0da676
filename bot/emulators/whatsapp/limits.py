"""The emulator's settings (Meta's limits) and the clock and buckets that enforce them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.emulators.telegram.world import Limiter
from bot.emulators.telegram.world import Limits as ShapedLimits


@dataclass
class Limits:
    """Meta's limits as settings; the pair rate is reported by third parties only.

    Meta publishes the throughput (80/s) but not how it counts it, so the shape is a setting,
    as in the Telegram emulator (and counted by the same code): ``bucket`` (``burst`` tokens
    refilled at ``rate``), ``sliding`` (at most rate × window sends in any window of that many
    seconds) or ``fixed`` (per window aligned to the clock). A pace must hold under each.
    """

    rate: float = 80.0  # messages/s per business number (1,000 after the upgrade)
    burst: float | None = None  # bucket size; default one second's worth
    shape: str = "bucket"  # bucket | sliding | fixed
    window: float = 1.0  # seconds (shapes "sliding" and "fixed")
    pair_rate: float = 1 / 6  # messages/s to one user
    pair_burst: float = 5.0
    messaging_limit: int | None = 2_000  # unique users reached outside the window per 24 h
    # Meta documents no code for a send over the messaging limit: accepted, then failed.
    tier_error: int = 131048
    webhook_retry_base: float = 1.0  # first redelivery delay (real seconds); doubles
    webhook_retry_cap: float = 60.0
    duplicate_rate: float = 0.0  # share of webhooks delivered twice
    webhook_connections: int = 32
    webhook_batch: int = 1  # events per POST, several ``entry`` items when above one

    def throughput(self) -> Limiter:
        """The number's throughput limiter, of the configured shape (unknown one: ValueError)."""
        shaped = ShapedLimits(rate=self.rate, shape=self.shape, window=self.window)
        return shaped.limiter(self.rate, self.burst)


class Bucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def ready(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= 1.0

    def take(self) -> None:
        self.tokens -= 1.0


class OffsetClock:
    """Wall-clock epoch seconds that a test or the control API can move forward, or stop.

    Stopped (``freeze``), it moves only by ``advance``: a test that counts sends within one
    second of the emulator's time then gets the same answer however slowly the machine runs.
    """

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen: float | None = None

    def __call__(self) -> float:
        return self._frozen if self._frozen is not None else time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds

    def freeze(self) -> None:
        self._frozen = self()
