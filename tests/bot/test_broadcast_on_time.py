"""A broadcast send is written at its slot or takes a new one (``bot.broadcast._on_time``).

The pacer lets a send go at its slot; the sending coroutine resumes when the event loop gets to
it. If the loop is blocked in between (a claim of 500 rows, an outcome write, a loaded
machine), the send would leave late, bunched with the next ones, or during a flood wait that
began meanwhile (each such send lengthens Telegram's wait, as the emulator assumes). On a
virtual clock (``tests.bot.virtual_time``), the loop stalls right after chosen releases.
"""

from __future__ import annotations

import asyncio
import bisect
import math

import pytest

from bot.broadcast import _on_time
from bot.ratelimit import LocalLedger, Pacer, Priority, late_tolerance
from tests.bot.virtual_time import VirtualLoop, run_virtual, virtual_loop

RATE = 1000.0  # paid broadcast
SENDS = 1500


class StallingPacer(Pacer):
    """After the releases at the given moments, the loop stalls (or a 429 comes) before the
    released coroutine runs again."""

    def __init__(self, loop: VirtualLoop, after: dict[float, str]) -> None:
        super().__init__(RATE, per_chat_interval=0, ledger=LocalLedger(loop.time), clock=loop.time)
        self.loop = loop
        self.after = dict(after)
        self.released: dict[str | None, float] = {}
        self.waits: list[tuple[float, float]] = []  # the flood waits begun

    async def acquire(
        self, chat_id: str | None = None, priority: Priority = Priority.BROADCAST
    ) -> float:
        released = await super().acquire(chat_id, priority)
        self.released[chat_id] = released
        for moment, what in list(self.after.items()):
            if released >= moment:
                del self.after[moment]
                if what == "stall":
                    self.loop.stall(0.06)
                else:
                    self.on_rate_limited(1.0)
                    self.waits.append((self.loop.time(), self.loop.time() + 1.0))
        return released


def late_sends(what: str, *, strict: bool) -> tuple[list[tuple[float, float]], StallingPacer]:
    """``SENDS`` broadcast sends through ``_on_time`` while the loop stalls (or a 429 comes)
    between a send's release and its write, twice: (written at, its release) of each."""

    async def scenario() -> tuple[list[tuple[float, float]], StallingPacer]:
        loop = virtual_loop()
        pacer = StallingPacer(loop, {0.3: what, 0.9: what})
        written: list[tuple[float, float]] = []  # (written at, its release)

        async def send(n: int) -> None:
            await _on_time(pacer, str(n), strict=strict)
            written.append((loop.time(), pacer.released[str(n)]))

        await asyncio.gather(*(send(n) for n in range(SENDS)))
        await pacer.aclose()
        return written, pacer

    return run_virtual(scenario())


@pytest.mark.parametrize("what", ["stall", "429"])
def test_a_send_resumed_late_or_during_a_flood_wait_takes_a_new_slot(what: str) -> None:
    written, pacer = late_sends(what, strict=True)
    tolerance = late_tolerance(1 / RATE)
    assert len(written) == SENDS  # none lost
    assert pacer.retaken >= 2
    # Every send written within the tolerance of its own release (resumed late: a new slot).
    assert all(at - released <= tolerance + 1e-9 for at, released in written)
    moments = sorted(at for at, _ in written)
    # No 1-s window holds more than the pace and the tolerance allow.
    most = max(i - bisect.bisect_right(moments, at - 1.0) + 1 for i, at in enumerate(moments))
    assert most <= math.ceil(pacer.rate * (1 + tolerance)) + 1
    if what == "429":  # nothing written during either flood wait
        assert len(pacer.waits) == 2
        assert not [at for at in moments for a, b in pacer.waits if a < at < b]


def test_a_channel_without_a_strict_limit_keeps_the_slot_it_was_given() -> None:
    """WhatsApp (no ``StrictLimit``): a send resumed late still goes on its slot; withholding
    there burnt slots (8,000 at 1,000/s took 65-178 s instead of 9)."""
    written, pacer = late_sends("stall", strict=False)
    assert len(written) == SENDS and pacer.retaken == 0
    tolerance = late_tolerance(1 / RATE)
    assert any(at - released > tolerance for at, released in written)  # the stall's sends
