"""The pacer: even spacing per bot, spacing per chat, and one chat never holding up the rest.

On virtual time (``tests.bot.virtual_time``): the spacing is the pacer's, not a loaded
machine's.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from telegram.request import HTTPXRequest

from bot.ratelimit import LocalLedger, Pacer, late_tolerance
from bot.telegram.ratelimit import PacerRateLimiter, withhold_late
from db.delivery.pace import CAP
from tests.bot.virtual_time import run_virtual, virtual_loop


def on_the_loop(rate: float, **options: float) -> Pacer:
    loop = virtual_loop()
    return Pacer(rate, ledger=LocalLedger(loop.time), clock=loop.time, **options)


def test_a_chat_waiting_for_its_turn_does_not_delay_other_chats() -> None:
    async def scenario() -> dict[str, float]:
        pacer = on_the_loop(200, per_chat_interval=0.5)
        done: dict[str, float] = {}

        async def send(name: str, chat: str) -> None:
            await pacer.acquire(chat)
            done[name] = virtual_loop().time()

        await asyncio.gather(
            send("a1", "A"), send("a2", "A"), *(send(f"c{n}", f"C{n}") for n in range(20))
        )
        await pacer.aclose()
        return done

    done = run_virtual(scenario())
    assert done["a2"] - done["a1"] >= 0.5  # the same chat is spaced
    others = [done[f"c{n}"] for n in range(20)]
    # 20 other chats at 200/s (the pace: 192/s): about 0.1 s, not behind chat A (0.5 s).
    assert max(others) < 0.12


def test_the_bot_rate_spaces_sends_evenly_and_pauses_on_flood_wait() -> None:
    async def scenario() -> tuple[float, float]:
        pacer = on_the_loop(50)
        loop = virtual_loop()
        await asyncio.gather(*(pacer.acquire(str(n)) for n in range(26)))
        spaced = loop.time()
        pacer.on_rate_limited(0.3)
        paused = loop.time()
        await pacer.acquire("x")
        waited = loop.time() - paused
        await pacer.aclose()
        return spaced, waited

    spaced, waited = run_virtual(scenario())
    assert spaced == pytest.approx(25 / (50 * CAP))  # 25 intervals at the pace
    assert waited == pytest.approx(0.3)  # the flood wait, then the next slot at once


def test_sends_held_back_by_a_full_wire_take_new_slots_rather_than_leave_together() -> None:
    """Two requests on the wire whose answers come back at the same moment: the two sends that
    waited for the wire meanwhile must not both leave then (twice the pace at once, and with
    more on the wire, more than the limit in a second); each takes a slot again."""

    async def scenario() -> tuple[list[float], float]:
        pacer = on_the_loop(50, per_chat_interval=0)
        loop = virtual_loop()
        limiter = PacerRateLimiter(pacer, in_flight=2)
        left: list[float] = []
        interval = 1 / (50 * CAP)
        # The first two answers both arrive at 0.5 s; the others at once.
        durations = iter([0.5, 0.5 - interval, 0.0, 0.0, 0.0, 0.0])

        async def call(chat: int) -> dict[str, Any]:
            left.append(loop.time())
            await asyncio.sleep(next(durations))
            return {"ok": True}

        async def send(chat: int) -> None:
            await limiter.process_request(call, (chat,), {}, "sendMessage", {"chat_id": chat}, None)

        await asyncio.gather(*(send(n) for n in range(6)))
        await pacer.aclose()
        return left, interval

    left, interval = run_virtual(scenario())
    assert len(left) == 6 and left[2] >= 0.5  # the third waited for the wire
    tolerance = late_tolerance(interval)
    assert all(b - a >= interval - tolerance for a, b in itertools.pairwise(left)), left


def replies_through_httpx(*, stall: float) -> tuple[list[float], Pacer]:
    """Six replies through python-telegram-bot's ``HTTPXRequest`` and the limiter; the loop is
    busy for ``stall`` s after the first is let go and before httpx takes it (python-telegram-bot
    builds its requests on the loop that serves every webhook). When each was written."""

    async def scenario() -> tuple[list[float], Pacer]:
        loop = virtual_loop()
        pacer = on_the_loop(30, per_chat_interval=0)
        written: list[float] = []

        def answer(request: httpx.Request) -> httpx.Response:
            written.append(loop.time())
            return httpx.Response(200, json={"ok": True, "result": True})

        hooks = {"request": [withhold_late]}
        transport = httpx.MockTransport(answer)
        request = HTTPXRequest(httpx_kwargs={"transport": transport, "event_hooks": hooks})
        await request.initialize()
        limiter = PacerRateLimiter(pacer)
        stalls = iter([stall])

        async def call(chat: int) -> Any:
            loop.stall(next(stalls, 0.0))
            return await request.post(f"http://api.test/bot1:x/sendMessage?chat_id={chat}")

        async def send(chat: int) -> None:
            await limiter.process_request(call, (chat,), {}, "sendMessage", {"chat_id": chat}, None)

        await asyncio.gather(*(send(n) for n in range(6)))
        await request.shutdown()
        await pacer.aclose()
        return written, pacer

    return run_virtual(scenario())


def test_a_reply_held_up_before_httpx_writes_it_takes_a_new_slot() -> None:
    """A reply let go on time but held up before httpx writes it must not go late, beside the
    next reply's slot (3 replies within 24 ms earned a 429 and a second's wait for the whole bot
    beside a broadcast): httpx's request hook withholds it and it takes a new slot."""
    written, pacer = replies_through_httpx(stall=0.05)
    interval = 1 / pacer.rate
    tolerance = late_tolerance(interval)
    assert len(written) == 6 and pacer.retaken >= 1
    assert all(b - a >= interval - tolerance for a, b in itertools.pairwise(written)), written
    # Without the stall nothing is withheld: the hook costs no slot of a send on time.
    on_time, pacer = replies_through_httpx(stall=0.0)
    assert len(on_time) == 6 and pacer.retaken == 0
