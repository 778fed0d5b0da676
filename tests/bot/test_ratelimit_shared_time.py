"""Two processes' pacers on one ledger, on a virtual clock: a late wake-up must not bunch sends.

Each pacer here stands for one process (``gaung worker``, ``gaung serve``) drawing on the bot's
one budget. The ledger hands out slots as points in shared time, interleaved between the
processes; a process that wakes late (a stalled loop, a loaded machine) must not move its own
slots onto the ones another process holds, which would put twice the rate into a stretch of
time and earn a 429 (and a flood wait for the whole bot) from a strict sliding-window limit.

The event loop runs on virtual time (``VirtualLoop``): its clock moves only when every task
waits, straight to the next timer, so the schedule is the same on any machine, however loaded.
"""

from __future__ import annotations

import asyncio
import math
import selectors
from collections.abc import Coroutine
from typing import Any

import pytest

from bot.emulators.telegram.world import Limits
from bot.ratelimit import LocalLedger, Pacer, late_tolerance
from db.delivery.pace import CAP

RATE = 30.0


class _VirtualSelector(selectors.DefaultSelector):
    """Waiting for ``timeout`` s moves the loop's virtual clock on by as much, at once."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # nothing scheduled and nothing to read: it would wait forever
            raise RuntimeError("every task waits for something that never comes")
        self._loop.virtual += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual: timers fire at their exact moments, and a stall
    (``stall``) is the only lateness there is."""

    def __init__(self) -> None:
        self.virtual = 0.0
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self.virtual

    def stall(self, seconds: float) -> None:
        """The loop is blocked for ``seconds`` (no task runs meanwhile), as on a busy machine."""
        self.virtual += seconds


def run_virtual(main: Coroutine[Any, Any, Any]) -> Any:
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


def most_within(stamps: list[float], window: float) -> int:
    """The most sends in any window of ``window`` s (both ends included)."""
    most, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] < t - window - 1e-9:
            j += 1
        most = max(most, i - j + 1)
    return most


def two_processes(stalls: dict[float, float], *, each: int = 75) -> list[tuple[float, str]]:
    """Two pacers on one ledger, each with ``each`` sends waiting; at each virtual moment of
    ``stalls`` the loop stalls for that long. The moments the sends are let go, by process."""

    async def main() -> list[tuple[float, str]]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualLoop)
        ledger = LocalLedger(loop.time)
        pacers = {
            name: Pacer(RATE, ledger=ledger, clock=loop.time, per_chat_interval=0)
            for name in ("worker", "serve")
        }
        sent: list[tuple[float, str]] = []

        async def send(name: str, n: int) -> None:
            await pacers[name].acquire(f"{name}{n}")
            sent.append((loop.time(), name))

        async def stall(at: float, seconds: float) -> None:
            await asyncio.sleep(at)
            loop.stall(seconds)

        await asyncio.gather(
            *(send(name, n) for name in pacers for n in range(each)),
            *(stall(at, seconds) for at, seconds in stalls.items()),
        )
        for pacer in pacers.values():
            await pacer.aclose()
        return sent

    sent: list[tuple[float, str]] = run_virtual(main())
    return sent


def refused_by_a_strict_limit(stamps: list[float]) -> int:
    """Sends a sliding window of 30 in any second refuses (the emulator's strictest shape)."""
    limiter = Limits(rate=RATE, shape="sliding").limiter(RATE, RATE)
    refused = 0
    for moment in stamps:
        if limiter.ready(moment):
            limiter.take(moment)
        else:
            refused += 1
    return refused


# A stall of a tenth of a second, then one of a quarter (a claim of a few hundred rows on a
# loaded machine), each in the middle of the processes' interleaved reservations.
STALLS = {0.41: 0.1, 1.37: 0.25, 2.05: 0.05}


@pytest.mark.parametrize("stalls", [STALLS, {0.6: 0.3}, {0.2: 0.04, 0.9: 0.04, 1.5: 0.6}])
def test_a_late_wake_up_never_puts_two_processes_sends_closer_than_the_pace(
    stalls: dict[float, float],
) -> None:
    sent = two_processes(stalls)
    stamps = sorted(at for at, _ in sent)
    assert len(stamps) == 150  # none lost
    assert {name for _, name in sent} == {"worker", "serve"}
    pace = RATE * CAP
    tolerance = late_tolerance(1 / pace)
    # Sends land within [slot, slot + tolerance] of slots one pace apart, whichever process
    # holds them: no window holds more than that allows.
    for window in (0.1, 0.25, 0.5, 1.0):
        allowed = math.floor(pace * (window + tolerance) + 1e-9) + 1
        assert most_within(stamps, window) <= allowed, (window, stamps)
    assert refused_by_a_strict_limit(stamps) == 0


def test_without_a_stall_the_two_processes_share_the_pace_evenly() -> None:
    """The virtual clock itself: no stall, no lateness, the pace exactly."""
    sent = two_processes({})
    stamps = sorted(at for at, _ in sent)
    assert len(stamps) == 150
    span = stamps[-1] - stamps[0]
    assert span == pytest.approx(149 / (RATE * CAP), rel=0.01)
    assert most_within(stamps, 1.0) <= RATE
