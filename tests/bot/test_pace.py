"""The pace against every limiter shape the emulator can assume, on a simulated clock.

The ledger's arithmetic (``db.delivery.pace.PaceState``) drives sends into the emulator's own
limiters (``bot.emulators.telegram.world``) at simulated moments with network jitter, so a
two-minute broadcast runs in milliseconds and never races the wall clock.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass

import pytest

from bot.emulators.telegram.world import Limits
from bot.ratelimit import Pacer, Priority, late_tolerance
from db.delivery.pace import CAP, CUT, PaceState

SHAPES = ("sliding", "bucket", "fixed")


@dataclass
class Run:
    accepted: list[float]
    limited: list[float]

    def rate_between(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.accepted) / (end - start)

    def most_in_any_second(self, start: float) -> int:
        stamps = [t for t in self.accepted if t >= start]
        most, j = 0, 0
        for i, t in enumerate(stamps):
            while stamps[j] <= t - 1.0:
                j += 1
            most = max(most, i - j + 1)
        return most


def simulate(
    shape: str,
    *,
    limit: float,
    ceiling: float,
    seconds: float,
    jitter: float = 0.004,
    late: float = 0.0,
    state: PaceState | None = None,
) -> Run:
    """One sender reserving slots in small batches, as a pacer does, for ``seconds``; each send
    leaves up to ``late`` after its slot (a busy loop) and the network adds up to ``jitter``
    (``state``: what the ledger learned before, on the same clock)."""
    rng = random.Random(7)
    limits = Limits(rate=limit, shape=shape, penalty="growing")
    limiter = limits.limiter(limit, limit)
    state = state or PaceState()
    now, flood_until = 0.0, 0.0
    run = Run([], [])
    while now < seconds:
        grant = state.reserve(max(1, int((state.rate or ceiling) * 0.25)), ceiling, now)
        if grant.count == 0:
            now += grant.delay
            continue
        for i in range(grant.count):
            slot = now + grant.delay + i * grant.interval
            if slot < state.paused_until:
                continue  # a pause learned meanwhile: the slot is let go
            # The process and the network delay, never hasten.
            arrival = slot + rng.uniform(0, late) + rng.uniform(0, jitter)
            if arrival < flood_until:
                flood_until += limits.flood_penalty
                run.limited.append(arrival)
                state.rate_limited(math.ceil(flood_until - arrival), ceiling, arrival)
                continue
            if not limiter.ready(arrival):
                retry = max(1, math.ceil(limiter.wait(arrival)))
                flood_until = arrival + retry
                run.limited.append(arrival)
                state.rate_limited(retry, ceiling, arrival)
                continue
            limiter.take(arrival)
            run.accepted.append(arrival)
        now = max(now + grant.delay + grant.count * grant.interval, state.paused_until)
    return run


@pytest.mark.parametrize("shape", SHAPES)
def test_at_the_nominal_limit_the_pace_stays_just_below_it_without_429(shape: str) -> None:
    run = simulate(shape, limit=30, ceiling=30, seconds=120)
    assert run.limited == []
    assert run.rate_between(10, 120) >= 0.95 * 30
    assert run.most_in_any_second(0) <= 30


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("limit", "seconds"), [(30, 120), (1000, 20)])
def test_sends_as_late_as_the_pacer_allows_stay_below_the_limit(
    shape: str, limit: float, seconds: float
) -> None:
    """Every send up to ``late_tolerance`` late (uniformly), free and paid: no 429, and at
    least 0.95 × the limit after the first 10 s."""
    pace = CAP * limit
    run = simulate(
        shape, limit=limit, ceiling=limit, seconds=seconds, late=late_tolerance(1 / pace)
    )
    assert run.limited == []
    assert run.rate_between(10, seconds) >= 0.95 * limit
    assert run.most_in_any_second(0) <= limit


@pytest.mark.parametrize("shape", SHAPES)
def test_a_limit_below_the_setting_is_learned_and_kept(shape: str) -> None:
    # The operator set 30/s; this Telegram allows 20/s. The pace must find out and stay there.
    run = simulate(shape, limit=20, ceiling=30, seconds=300)
    late = [t for t in run.limited if t >= 60]
    sent_late = sum(t >= 60 for t in run.accepted)
    assert len(late) <= 0.005 * sent_late  # a rare probe above the limit, no more
    assert run.rate_between(60, 300) >= 0.85 * 20
    assert run.rate_between(60, 300) <= 20


def test_a_429_pauses_cuts_once_and_climbs_back_slowly() -> None:
    state = PaceState()
    state.reserve(1, 30, 0.0)
    assert state.rate == pytest.approx(30 * CAP)
    state.rate_limited(2, 30, 10.0)
    cut = state.rate
    assert cut is not None and cut < 30 * CAP
    state.rate_limited(3, 30, 10.1)  # an echo from a send already on the wire
    assert state.rate == cut
    assert state.paused_until == pytest.approx(13.1)
    grant = state.reserve(5, 30, 11.0)
    assert grant.delay == pytest.approx(2.1) and grant.pause == pytest.approx(2.1)
    state.reserve(1, 30, 16.1)
    assert cut < (state.rate or 0) < 30 * CAP


def test_replies_go_before_broadcasts_and_redraws_last() -> None:
    async def scenario() -> list[str]:
        pacer = Pacer(20, per_chat_interval=0)
        order: list[str] = []

        async def send(name: str, priority: Priority) -> None:
            await pacer.acquire(name, priority)
            order.append(name)

        first = asyncio.create_task(send("b0", Priority.BROADCAST))
        await asyncio.sleep(0)
        tasks = [asyncio.create_task(send(f"b{n}", Priority.BROADCAST)) for n in range(1, 8)]
        tasks.append(asyncio.create_task(send("redraw", Priority.REDRAW)))
        await asyncio.sleep(0.06)  # b0 and perhaps b1 have gone
        tasks.append(asyncio.create_task(send("reply", Priority.REPLY)))
        await asyncio.gather(first, *tasks)
        await pacer.aclose()
        return order

    order = asyncio.run(scenario())
    assert order.index("reply") <= 3  # the next free slot or so, not after the seven broadcasts
    assert order[-1] == "redraw"


def test_lateness_allowed_never_puts_more_in_a_second_than_the_ceiling() -> None:
    """Slots used up to ``late_tolerance`` late: at the pace the ledger aims at (``CAP`` × the
    ceiling) a one-second window then holds at most floor(pace × (1 + tolerance)) + 1 sends,
    which must stay within the ceiling with room for the network's jitter (a 1 % of it from
    200/s on), while fast paces get the 20 ms that a busy worker's loop needs."""
    for ceiling in (1, 5, 20, 30, 80, 200, 250, 1000):
        pace = CAP * ceiling
        tolerance = late_tolerance(1 / pace)
        most = math.floor(pace * (1 + tolerance)) + 1
        assert most <= ceiling, ceiling
        if ceiling >= 200:
            assert most <= 0.99 * ceiling, ceiling
    assert late_tolerance(1 / (CAP * 1000)) == 0.02
    assert late_tolerance(1 / (CAP * 30)) == pytest.approx(1 / (2 * CAP * 30))


@pytest.mark.parametrize("shape", SHAPES)
def test_a_raised_limit_is_used_at_once_without_429(shape: str) -> None:
    # Learned at 80/s (WhatsApp's default); the number is then upgraded to 1,000/s. The rate
    # the ledger remembers is a fraction of the old ceiling, not a limit found by a 429.
    state = PaceState()
    for second in range(30):
        state.reserve(20, 80, -60.0 + second)
    assert state.rate == pytest.approx(80 * CAP)
    run = simulate(shape, limit=1000, ceiling=1000, seconds=10, state=state)
    assert run.limited == []
    assert run.rate_between(0, 10) >= 0.95 * 1000
    assert run.most_in_any_second(0) <= 1000


def test_a_changed_ceiling_keeps_what_a_429_taught_as_a_fraction() -> None:
    state = PaceState()
    state.reserve(1, 80, 0.0)
    state.rate_limited(1, 80, 1.0)
    assert state.rate == pytest.approx(80 * CAP * CUT)
    state.reserve(1, 1000, 2.0)  # upgraded: the same fraction of the new ceiling, then climbs
    assert state.failed_rate == pytest.approx(1000 * CAP)
    assert 1000 * CAP * CUT <= (state.rate or 0) < 1000 * CAP
    state.reserve(1, 80, 3.0)  # and back: never above the lower ceiling's cap
    assert (state.rate or 0) <= 80 * CAP
