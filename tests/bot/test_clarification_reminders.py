"""Through the broadcaster and the emulated Telegram: a clarification's reminder comes after
an hour but never in quiet hours, and the weekly cap holds back the rest."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.broadcast import Broadcaster, ReminderPolicy
from bot.channels.telegram import TelegramChannel
from bot.emulators.telegram import TelegramEmulator
from db.engine import session_scope
from db.posts.clarification import mark_clarification
from tests.bot.conftest import registered_members
from tests.bot.test_broadcast import approve, broadcast

WIB = ZoneInfo("Asia/Jakarta")
POLICY = ReminderPolicy(
    delay=timedelta(hours=6),
    tz=WIB,
    quiet_start=datetime.strptime("21:00", "%H:%M").time(),
    quiet_end=datetime.strptime("06:00", "%H:%M").time(),
    clarification_delay=timedelta(hours=1),
    per_week=2,
)


def remind(engine: Engine, tg: TelegramEmulator, at: datetime) -> int:
    channel = TelegramChannel(tg.token, tg.url)
    worker = Broadcaster(engine, {"telegram": channel}, {"telegram": 100}, clock=lambda: at)

    async def once() -> int:
        async with aclosing(channel):
            return await worker.remind_once(POLICY)

    return asyncio.run(once())


def test_clarification_reminder_is_sooner_outside_quiet_hours_and_capped(
    engine: Engine, tg: TelegramEmulator
) -> None:
    (member,) = registered_members(engine, tg, 1)
    evening = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)  # 19:30 WIB
    posts = [approve(engine, now=evening) for _ in range(3)]
    clarification = approve(engine, now=evening)
    with session_scope(engine) as session:
        post, _ = mark_clarification(session, clarification, now=evening)
        url = post.url
    for post_id in [clarification, *posts]:
        asyncio.run(broadcast(engine, tg, post_id, clock=lambda: evening))
    assert tg.world.delivered_counts()[member.user_id] == 4

    assert remind(engine, tg, evening + timedelta(minutes=59)) == 0
    # 20:30 WIB: the clarification's hour has passed, the others' six hours have not.
    assert remind(engine, tg, evening + timedelta(hours=1)) == 1
    last = tg.world.messages(member.user_id)[-1].text
    assert "Pengingat" in last and url in last
    # 02:30 WIB: the other three are due, but it is quiet.
    assert remind(engine, tg, evening + timedelta(hours=7)) == 0
    # 06:00 WIB: one more fits in the week (cap 2, the clarification's counted).
    assert remind(engine, tg, datetime(2026, 11, 23, 23, 0, tzinfo=UTC)) == 1
    assert remind(engine, tg, datetime(2026, 11, 24, 5, 0, tzinfo=UTC)) == 0
    assert tg.world.delivered_counts()[member.user_id] == 6
