"""Two processes' pacers on one ledger, on a virtual clock: a late wake-up must not bunch sends.

Each pacer here stands for one process (``gaung worker``, ``gaung serve``) drawing on the bot's
one budget. The ledger hands out slots as points in shared time, interleaved between the
processes; a process that wakes late (a stalled loop, a loaded machine) must not move its own
slots onto the ones another process holds, which would put twice the rate into a stretch of
time and earn a 429 (and a flood wait for the whole bot) from a strict sliding-window limit.

The event loop runs on virtual time (``tests.bot.virtual_time``): its clock moves only when
every task waits, straight to the next timer, so the schedule is the same on any machine.
"""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from bot.emulators.telegram.world import Limits
from bot.ratelimit import LocalLedger, Pacer, late_tolerance
from db.delivery.pace import CAP
from tests.bot.virtual_time import run_virtual, virtual_loop

RATE = 30.0


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
        loop = virtual_loop()
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

    return run_virtual(main())


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


def test_without_a_stall_the_two_processes_send_on_one_even_grid() -> None:
    """No stall, no lateness: every send on its slot, one pace apart whichever process sends
    (the first slot too: a process's first grant is not pushed one interval on)."""
    sent = two_processes({})
    stamps = [at for at, _ in sent]
    interval = 1 / (RATE * CAP)
    assert stamps == sorted(stamps) and stamps[0] == 0.0
    assert all(b - a == pytest.approx(interval) for a, b in itertools.pairwise(stamps))
    # The ledger interleaves the two processes' reservations.
    assert sum(a != b for (_, a), (_, b) in itertools.pairwise(sent)) >= 8


def test_slots_the_process_wakes_too_late_for_are_let_go_neither_squeezed_in_nor_moved_on() -> None:
    """A process alone whose loop stalls: the slots that went by meanwhile are let go (the
    stall cost what it cost), the late sends are not bunched at its end, none is lost, and the
    sends after it keep to the ledger's grid (not moved on by the delay)."""

    async def scenario() -> tuple[list[float], Pacer]:
        loop = virtual_loop()
        pacer = Pacer(50, per_chat_interval=0, ledger=LocalLedger(loop.time), clock=loop.time)
        released: list[float] = []

        async def send(n: int) -> None:
            await pacer.acquire(str(n))
            released.append(loop.time())

        async def stall() -> None:
            await asyncio.sleep(0.05)
            loop.stall(0.2)

        await asyncio.gather(stall(), *(send(n) for n in range(30)))
        await pacer.aclose()
        return released, pacer

    released, pacer = run_virtual(scenario())
    interval = 1 / pacer.rate
    tolerance = late_tolerance(interval)
    assert len(released) == 30  # none lost
    assert pacer.missed >= 8 and pacer.late == pytest.approx(pacer.missed * interval)
    # Sent only on a slot of the grid (up to the tolerance late), never twice on one.
    grid = [math.floor(at / interval + 1e-9) for at in released]  # the slot each send used
    offsets = [at - n * interval for at, n in zip(released, grid, strict=True)]
    assert all(-1e-9 <= offset <= tolerance for offset in offsets)
    assert len(set(grid)) == len(grid)
    # The stall (0.2 s) cost about its own length, no more: the slots after it are on time.
    assert released[-1] <= 29 * interval + 0.2 + interval
