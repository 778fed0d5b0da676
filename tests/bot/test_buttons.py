"""Redrawing the buttons after taps, against the emulated Bot API."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine
from telegram.ext import ExtBot

from bot.emulators.telegram import TelegramEmulator
from bot.ratelimit import Pacer
from bot.telegram.buttons import ButtonRedrawer
from bot.telegram.ratelimit import PacerRateLimiter
from db.delivery.confirmations import Tap, record_taps
from db.delivery.redraws import queued_redraws
from db.engine import session_scope
from db.models import ChatIdentity
from tests.bot.conftest import registered_members
from tests.bot.test_broadcast import approve, broadcast, broadcast_to_members, deliveries


def test_buttons_are_redrawn_once_per_change_after_the_other_sends(
    engine: Engine, tg: TelegramEmulator
) -> None:
    members, by_asn = broadcast_to_members(engine, tg, 3)
    both, like_only, erased = (by_asn[m.asn_id] for m in members)
    plan = [(both, ["like", "share"]), (like_only, ["like"]), (erased, ["like"])]
    with session_scope(engine) as session:
        for (delivery, kinds), member in zip(plan, members, strict=True):
            for kind in kinds:  # one tap per batch: the second finds the first's row queued
                tap = Tap(delivery.id or 0, kind, str(member.user_id))
                record_taps(session, "telegram", [tap], redraw=True)
        identity = session.get(ChatIdentity, erased.identity_id)
        assert identity is not None
        identity.chat_id = None  # as /hapus leaves it: nowhere to draw
        session.add(identity)
    pacer = Pacer(20)

    def edits() -> int:
        return sum(tg.world.messages(m.user_id)[-1].edits for m in members)

    async def scenario() -> float:
        bot = ExtBot(tg.token, base_url=f"{tg.url}/bot", rate_limiter=PacerRateLimiter(pacer))
        await bot.initialize()
        redrawer = ButtonRedrawer(engine, bot, pacer)
        # A broadcast holds the next second of the bot's pace: the redraws wait for it.
        others = [asyncio.create_task(pacer.acquire()) for _ in range(20)]
        await asyncio.sleep(0)
        began = time.monotonic()
        redrawer.start()
        deadline = began + 10
        while edits() < 2:
            assert time.monotonic() < deadline, "buttons not redrawn"
            await asyncio.sleep(0.02)
        took = time.monotonic() - began
        await asyncio.sleep(0.3)  # time for any extra edit, which must not come
        await redrawer.stop()
        await asyncio.gather(*others)
        await bot.shutdown()
        return took

    took = asyncio.run(scenario())
    assert took >= 0.45  # not drawn while more than half a second of sends was promised
    first, second, third = (tg.world.messages(m.user_id)[-1] for m in members)
    assert [b["text"] for b in first.buttons()][:2] == ["✅ Sudah Like", "✅ Sudah Share"]
    assert [b["text"] for b in second.buttons()][:2] == ["✅ Sudah Like", "🔁 Sudah Share"]
    assert (first.edits, second.edits, third.edits) == (1, 1, 0)  # like + share: one edit
    with session_scope(engine, readonly=True) as session:
        assert queued_redraws(session) == 0


def test_redrawn_buttons_keep_the_tracked_open_link(engine: Engine, tg: TelegramEmulator) -> None:
    from bot.channels.links import OpenLinks

    [member] = registered_members(engine, tg, 1)
    post_id = approve(engine)
    asyncio.run(broadcast(engine, tg, post_id))
    [delivery] = deliveries(engine, post_id)
    with session_scope(engine) as session:
        record_taps(
            session, "telegram", [Tap(delivery.id or 0, "like", str(member.user_id))], redraw=True
        )
    links = OpenLinks("https://gaung.example.id", b"k" * 32)

    async def scenario() -> None:
        bot = ExtBot(tg.token, base_url=f"{tg.url}/bot")
        await bot.initialize()
        redrawer = ButtonRedrawer(engine, bot, open_links=links)
        redrawer.start()
        deadline = time.monotonic() + 10
        while tg.world.messages(member.user_id)[-1].edits < 1:
            assert time.monotonic() < deadline, "buttons not redrawn"
            await asyncio.sleep(0.02)
        await redrawer.stop()
        await bot.shutdown()

    asyncio.run(scenario())
    buttons = tg.world.messages(member.user_id)[-1].buttons()
    assert buttons[0]["text"] == "✅ Sudah Like"
    assert buttons[-1]["url"] == links.url(delivery.id or 0)


def test_redraws_take_their_chats_turn_and_wait_out_a_429(
    engine: Engine, tg: TelegramEmulator
) -> None:
    """Through the lean client: each chat's turn is taken in the claim's transaction (a reply
    from another process to that chat must wait for it), and a 429 pauses the pacer and the
    edit is sent again after the wait, once."""
    from datetime import timedelta

    from sqlalchemy import select

    from db.models import ChatPace, table
    from db.types import utcnow

    members, by_asn = broadcast_to_members(engine, tg, 3)
    with session_scope(engine) as session:
        taps = [Tap(by_asn[m.asn_id].id or 0, "like", str(m.user_id)) for m in members]
        record_taps(session, "telegram", taps, redraw=True)
    tg.world.set_limits(rate=1)  # the second edit of a second is refused with a 429
    pacer = Pacer(100)

    async def scenario() -> None:
        bot = ExtBot(tg.token, base_url=f"{tg.url}/bot")
        redrawer = ButtonRedrawer(engine, bot, pacer)
        assert redrawer._wire is not None  # the emulator is reached directly: the lean client
        deadline = time.monotonic() + 30
        try:
            while True:
                with session_scope(engine, readonly=True) as session:
                    if queued_redraws(session) == 0:
                        break
                assert time.monotonic() < deadline, "buttons not redrawn"
                await redrawer.pass_once()
        finally:
            await redrawer.stop()

    began = utcnow()
    asyncio.run(scenario())
    statuses = [c.status for c in tg.world.calls("editMessageReplyMarkup")]
    assert 429 in statuses and statuses.count(200) == 3
    assert [tg.world.messages(m.user_id)[-1].edits for m in members] == [1, 1, 1]
    paces = table(ChatPace)
    with session_scope(engine, readonly=True) as session:
        rows = session.connection().execute(
            select(paces.c.chat_id, paces.c.next_at).where(paces.c.channel == "telegram")
        )
        turns = {chat: at for chat, at in rows}
    # Each chat's turn was taken for its redraw: the next send there waits a second.
    assert all(turns[str(m.user_id)] >= began + timedelta(seconds=1) for m in members), turns
