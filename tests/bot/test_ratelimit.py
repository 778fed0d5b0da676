"""The pacer: even spacing per bot, spacing per chat, and one chat never holding up the rest."""

from __future__ import annotations

import asyncio
import time

from bot.ratelimit import Pacer


def test_a_chat_waiting_for_its_turn_does_not_delay_other_chats() -> None:
    async def scenario() -> dict[str, float]:
        pacer = Pacer(200, per_chat_interval=0.5)
        began = time.monotonic()
        done: dict[str, float] = {}

        async def send(name: str, chat: str) -> None:
            await pacer.acquire(chat)
            done[name] = time.monotonic() - began

        await asyncio.gather(
            send("a1", "A"), send("a2", "A"), *(send(f"c{n}", f"C{n}") for n in range(20))
        )
        done["late"] = pacer.late
        return done

    done = asyncio.run(scenario())
    assert done["a2"] - done["a1"] >= 0.45  # the same chat is spaced
    others = [done[f"c{n}"] for n in range(20)]
    # 20 other chats at 200/s: about 0.1 s, not behind chat A (0.5 s). Less the time the pacer
    # moved its slots on because this process woke late: a loaded machine's, not the pacer's.
    assert max(others) - done["late"] < 0.35


def test_the_bot_rate_spaces_sends_evenly_and_pauses_on_flood_wait() -> None:
    async def scenario() -> tuple[float, float]:
        pacer = Pacer(50)
        began = time.monotonic()
        await asyncio.gather(*(pacer.acquire(str(n)) for n in range(26)))
        # Less the time its slots were moved on because this process woke late (load).
        spaced = time.monotonic() - began - pacer.late
        pacer.on_rate_limited(0.3)
        paused = time.monotonic()
        await pacer.acquire("x")
        return spaced, time.monotonic() - paused

    spaced, waited = asyncio.run(scenario())
    assert 0.45 <= spaced < 1.0  # 25 intervals of 20 ms
    assert waited >= 0.29
