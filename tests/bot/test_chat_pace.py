"""Per-chat spacing across processes: two processes answering one person take turns.

Each process used to space only its own sends to a chat, so two processes (``gaung serve``
and ``gaung bot``, two replicas) answering the same person at once could send two messages
within a second, and Telegram's per-chat 429 then paused the whole bot. Here two real
processes, each with the pacer every ``gaung`` process builds (``shared_pacer``), reply three
times each to one chat at the same moment; the emulated Telegram allows one message per
``SPACING`` seconds in a chat with a burst of two (room for a loaded machine's jitter: the
emulator times arrivals, and a send can leave a busy process late).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine

from bot.emulators.telegram import Limits, TelegramEmulator

SPACING = 0.5  # s between two messages in one chat, as the emulator enforces it
TURN = 0.6  # s the pacers keep between two sends to one chat
REPLIES = 3  # per process

SCRIPT = """
import asyncio, json, sys, time
from bot.channels.base import RateLimited
from bot.channels.telegram import TelegramChannel
from bot.ratelimit import Pacer, Priority, SharedLedger
from db.engine import make_engine

args = json.loads(sys.argv[1])

async def main() -> None:
    engine = make_engine(args["db"])
    pacer = Pacer(30, ledger=SharedLedger(engine, "telegram"), per_chat_interval=args["turn"])
    channel = TelegramChannel(args["token"], args["api"])

    async def reply(n: int) -> None:
        await pacer.acquire(args["chat"], Priority.REPLY)
        try:
            await channel.call("sendMessage", {"chat_id": args["chat"], "text": f"{args['me']}{n}"})
        except RateLimited:  # the test counts 429s in the emulator's log
            pass

    # The connection open before the clock starts: opening it under load once held the first
    # reply back past the next one's turn, and the two reached the chat together.
    await channel.call("getMe", {})
    await asyncio.sleep(max(0.0, args["at"] - time.time()))  # both processes at once
    await asyncio.gather(*(reply(n) for n in range(args["replies"])))
    await pacer.aclose()
    await channel.aclose()
    engine.dispose()

asyncio.run(main())
"""


def test_two_processes_replying_to_one_chat_take_turns(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    limits = Limits(rate=30, chat_rate=1 / SPACING, chat_burst=2, penalty="none")
    with TelegramEmulator(limits) as tg:
        user = tg.world.add_user("ASN", started=True)
        logs = [(tmp_path / f"{me}.log").open("wb") for me in "AB"]
        at = time.time() + 8  # both started and connected by then, even on a loaded machine
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SCRIPT,
                    json.dumps(
                        {
                            "db": database_url,
                            "token": tg.token,
                            "api": tg.url,
                            "chat": str(user.id),
                            "me": me,
                            "turn": TURN,
                            "replies": REPLIES,
                            "at": at,
                        }
                    ),
                ],
                cwd=Path(__file__).resolve().parents[2],
                stderr=log,
            )
            for me, log in zip("AB", logs, strict=True)
        ]
        for process, log in zip(processes, logs, strict=True):
            code = process.wait(timeout=120)
            log.close()
            assert code == 0, Path(log.name).read_text()
        calls = [c for c in tg.world.calls("sendMessage") if str(c.chat_id) == str(user.id)]

    timeline = [(round(c.at - calls[0].at, 3), c.status, c.params.get("text")) for c in calls]
    assert [c.status for c in calls] == [200] * (2 * REPLIES), timeline
    texts = sorted(str(c.params.get("text")) for c in calls)
    assert texts == sorted(f"{me}{n}" for me in "AB" for n in range(REPLIES))
    # The two processes took turns: six sends a turn apart, not two at a time (which spans
    # two turns and meets the emulator's 429 by the second round).
    span = calls[-1].at - calls[0].at
    assert span >= (2 * REPLIES - 1) * TURN * 0.8, timeline
