"""A flood wait stops every process of the bot: real ``gaung worker`` and ``gaung serve``.

Telegram answers a 429 to whichever process sent; the others must stop too (issue 10). Here
the processes are the real commands, each in its own process as an operator starts them:
two ``gaung worker`` and one ``gaung serve`` (webhook, no ``--worker``) on PostgreSQL, one of
each on SQLite, all drawing on the bot's one budget in the database. Mid-broadcast the
emulated Telegram imposes a flood wait (``penalty=none``: the wait does not grow, so its end is
known), twenty ASN write ``/status`` during it, and the emulator's own call log says whether
anything was sent before the wait was over.
"""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from pathlib import Path

from sqlalchemy import Engine
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from api.demo.serve import spawn_gaung, stop_gaung, wait_answering
from bot.emulators.telegram import Limits, TelegramEmulator
from bot.emulators.telegram.runner import free_port
from bot.ratelimit import Pacer
from bot.telegram.ratelimit import PacerRateLimiter
from tests.bot.conftest import gaung_env, registered_members
from tests.bot.test_broadcast import approve

MEMBERS = 90  # three seconds of the bot's 30/s
WRITERS = 20  # ASN writing /status during the wait
FLOOD = 4.0  # seconds of flood wait Telegram imposes
# From the first 429 until every process has heard of it: the 429's own record (a database
# write), then each other process's next reservation of slots (a few sends at 30/s), and the
# requests already on the wire; on a loaded two-core machine.
GRACE = 1.0
WIRE = 5  # messages on the wire at most, in the test of what a flood wait meets


class Command:
    """One ``gaung`` command in its own process against the emulator."""

    def __init__(self, args: list[str], database_url: str, tg: TelegramEmulator, tmp: Path):
        self.port = free_port()
        env = gaung_env(database_url, tg, self.port, telegram_rate="30")
        if args == ["serve"]:
            args = ["serve", "--port", str(self.port)]
        self.log_path = tmp / f"{args[0]}-{self.port}.log"
        self.process = spawn_gaung(args, env, tmp, self.log_path)

    def wait_http(self) -> None:
        answering = wait_answering(f"http://127.0.0.1:{self.port}/healthz", self.process, 180)
        assert answering, self.log()  # a loaded machine starts slowly

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_gaung(self.process)


def sent_by_worker(command: Command) -> int:
    found = re.search(r"Pekerja berhenti: (\d+) terkirim", command.log())
    assert found, command.log()[-2000:]
    return int(found.group(1))


def test_a_flood_wait_stops_every_worker_and_the_server_until_it_is_over(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    workers = 2 if engine.dialect.name == "postgresql" else 1
    limits = Limits(rate=30, penalty="none", chat_burst=10)  # the strict sliding window
    with TelegramEmulator(limits, local_webhooks=True) as tg:
        members = registered_members(engine, tg, MEMBERS)
        commands: list[Command] = []
        try:
            server = Command(["serve"], database_url, tg, tmp_path)
            commands.append(server)
            commands += [Command(["worker"], database_url, tg, tmp_path) for _ in range(workers)]
            server.wait_http()
            tg.wait_for(lambda: bool(tg.bot.webhook.url), timeout=60, message="no webhook")
            approve(engine)

            def accepted() -> int:
                return sum(c.status == 200 for c in tg.world.calls("sendMessage"))

            tg.wait_for(lambda: accepted() >= 15, timeout=60, message="the broadcast did not start")
            with tg.world.lock:  # Telegram imposes a flood wait on the bot
                flood_end = tg.world.clock() + FLOOD
                tg.bot.flood_until = flood_end
            writers = [m.user_id for m in members[:WRITERS]]
            for user in writers:  # and people write while it lasts
                tg.world.say(user, "/status")

            def done() -> bool:
                counts = tg.world.delivered_counts()
                replied = all(len(tg.world.messages(u)) >= 2 for u in writers)
                return replied and all(counts[m.user_id] >= 1 for m in members)

            tg.wait_for(done, timeout=120, message="the broadcast or the replies did not finish")
        finally:
            for command in commands:
                command.stop()
        calls = tg.world.calls("sendMessage")
        counts = tg.world.delivered_counts()
        replies = {u: tg.world.messages(u) for u in writers}

    for command in commands:
        assert "Traceback" not in command.log(), command.log()[-3000:]
    limited = [c.at for c in calls if c.status == 429]
    assert limited, "the flood wait was never met"
    first = min(limited)
    # Once every process has heard of the wait, nothing at all is sent until it is over.
    during = [c for c in calls if first + GRACE <= c.at < flood_end]
    assert during == [], [(round(c.at - first, 2), c.status, c.chat_id) for c in during]
    # Every 429 of the wait came before the processes had all heard (sends already released
    # or on the wire); after it, the pace starts again below the rate that failed.
    waited = [t for t in limited if t < flood_end]
    assert max(waited) < first + GRACE, [round(t - first, 3) for t in limited]
    print(
        f"429s: {len(waited)} during the wait, within {max(waited) - first:.2f} s of the first;"
        f" {len(limited) - len(waited)} after it, at",
        [round(t - flood_end, 2) for t in limited if t >= flood_end],
    )
    # Then everyone goes on: the post reached each member once, the writers got answers after
    # the wait (held back by it, not lost), and every worker took part in the broadcast.
    assert sorted(counts[m.user_id] for m in members) == sorted(
        1 + (m.user_id in replies) for m in members
    )
    writers_ids = {str(u) for u in replies}
    answered_at = [
        c.at
        for c in calls
        if c.status == 200
        and str(c.chat_id) in writers_ids
        and "Posyandu" not in str(c.params.get("text"))
    ]
    assert len(answered_at) == WRITERS
    assert min(answered_at) >= flood_end - 0.05  # the replies waited for the end of the wait
    sent = [sent_by_worker(c) for c in commands[1:]]
    assert sum(sent) == MEMBERS and all(n > 0 for n in sent), sent


def test_a_flood_wait_meets_at_most_the_messages_already_on_the_wire() -> None:
    """Every request already sent when a 429 comes back is refused too, and (if each send
    during a wait lengthens it) adds a second: ``gaung serve`` keeps at most
    ``MAX_IN_FLIGHT`` messages on the wire (here ``WIRE``), and one that waited for the wire
    while the wait began takes a new slot after it. The network is the edge faked here:
    answers take 0.4 s."""
    started: list[float] = []
    on_the_wire = 0
    most = 0
    refused_at: list[float] = []

    async def answer(n: int) -> bool:
        nonlocal on_the_wire, most
        started.append(time.monotonic())
        on_the_wire += 1
        most = max(most, on_the_wire)
        try:
            await asyncio.sleep(0.4)
            if n == 0 and not refused_at:  # the first answer is a flood wait of 1 s
                refused_at.append(time.monotonic())
                raise RetryAfter(1)
            return True
        finally:
            on_the_wire -= 1

    async def replies() -> None:
        limiter = PacerRateLimiter(Pacer(100), in_flight=WIRE)
        await asyncio.gather(
            *(
                limiter.process_request(answer, (n,), {}, "sendMessage", {"chat_id": n}, None)
                for n in range(40)
            )
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # RetryAfter(int)
        asyncio.run(replies())
    assert len(started) == 41  # every reply sent, the refused one twice
    assert most <= WIRE
    first = refused_at[0]
    during = [round(t - first, 3) for t in started if first < t < first + 1.0]
    assert during == []  # nothing more went out during the wait
    # Without the limit all 40 would have been on the wire when the 429 came back.
    assert sum(1 for t in started if t <= first) <= WIRE
