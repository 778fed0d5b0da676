"""What Gaung does when Telegram refuses: edits for someone who blocked the bot, answers that
come too late, a webhook address Telegram will not call. The emulator refuses these as Telegram
does (``bot.emulators.telegram.methods``); these tests run the product's branches for them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select
from telegram.ext import ExtBot

from bot.emulators.telegram import TelegramEmulator
from bot.ratelimit import Pacer
from bot.telegram.buttons import ButtonRedrawer
from bot.telegram.ratelimit import PacerRateLimiter
from db.delivery.confirmations import Tap, record_taps
from db.delivery.redraws import queued_redraws
from db.engine import session_scope
from db.models import Confirmation
from tests.bot.conftest import SECRET, BotProcess, Chat, registered_members
from tests.bot.test_broadcast import approve, broadcast_to_members, deliveries
from tests.bot.test_telegram_bot import make_admin, roster
from tests.command import run_gaung

LIKE = "✅ Sudah Like"


def test_redrawing_buttons_for_someone_who_blocked_the_bot_gives_up_on_them_only(
    engine: Engine, tg: TelegramEmulator
) -> None:
    members, by_asn = broadcast_to_members(engine, tg, 2)
    gone, stays = members
    with session_scope(engine) as session:
        for member in members:
            tap = Tap(by_asn[member.asn_id].id or 0, "like", str(member.user_id))
            record_taps(session, "telegram", [tap], redraw=True)
    tg.world.block(gone.user_id)

    async def two_passes() -> tuple[int, int]:
        pacer = Pacer(100)
        bot = ExtBot(tg.token, base_url=f"{tg.url}/bot", rate_limiter=PacerRateLimiter(pacer))
        await bot.initialize()
        redrawer = ButtonRedrawer(engine, bot, pacer)
        try:
            return await redrawer.pass_once(), await redrawer.pass_once()
        finally:
            await redrawer.stop()
            await bot.shutdown()

    first, second = asyncio.run(two_passes())
    assert (first, second) == (2, 0)  # the refused one is not claimed again
    refused = [c for c in tg.world.calls("editMessageReplyMarkup") if c.status == 403]
    assert [int(c.chat_id) for c in refused] == [gone.user_id]
    assert refused[0].description == "Forbidden: bot was blocked by the user"
    assert tg.world.messages(gone.user_id)[-1].edits == 0
    redrawn = tg.world.messages(stays.user_id)[-1]
    assert redrawn.edits == 1 and LIKE in [b["text"] for b in redrawn.buttons()]
    with session_scope(engine, readonly=True) as session:
        assert queued_redraws(session) == 0
        assert len(session.exec(select(Confirmation)).all()) == 2  # the tap itself stays


def test_a_tap_answered_too_late_is_still_recorded_and_nobody_is_told_of_an_error(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    [member] = registered_members(engine, tg, 1)
    post_id = approve(engine)

    def recorded_sent() -> bool:  # the message is on Telegram, and its id in the database
        return [d.message_id for d in deliveries(engine, post_id)] == ["1"]

    tg.wait_for(recorded_sent, timeout=20)
    [post] = tg.world.messages(member.user_id)
    tg.world.set_limits(callback_timeout=-1.0)  # every answer now comes too late
    query = tg.world.press_label(member.user_id, post.message_id, "Like")
    tg.wait_for(
        lambda: LIKE in [b["text"] for b in tg.world.messages(member.user_id)[0].buttons()],
        timeout=15,
        message="the tap was not recorded (no ✅)",
    )
    answers = tg.world.calls("answerCallbackQuery")
    assert answers and all(c.status == 400 for c in answers)  # tried, refused as too old
    assert not tg.bot.queries[query].answered
    with session_scope(engine, readonly=True) as session:
        [confirmation] = session.exec(select(Confirmation)).all()
        assert confirmation.kind == "like"
    assert len(tg.world.messages(member.user_id)) == 1  # no "Maaf, terjadi kesalahan"


def test_an_admin_decision_answered_too_late_still_takes_effect(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    [dewi] = roster(engine, None)
    admin = Chat(tg, "Admin Dinkes")
    make_admin(engine, admin, "opd", "DINKES")
    admin.say("/start")
    asker = Chat(tg, "Dewi")
    asker.say(dewi.nip)
    request = admin.wait_message(2)
    tg.world.set_limits(callback_timeout=-1.0)
    query = tg.world.press_label(admin.id, request.message_id, "Setujui")
    approved = asker.wait_message(2)  # after "sent to the OPD admin"
    assert "menyetujui" in approved.text and dewi.nama in approved.text
    tg.wait_for(lambda: "Disetujui" in admin.messages()[1].text)
    assert not tg.bot.queries[query].answered


def test_serve_refuses_a_webhook_address_telegram_would_refuse_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    with TelegramEmulator() as tg:  # as Telegram: https:// on 443, 80, 88 or 8443 only
        settings = {
            "GAUNG_DATABASE_URL": database_url,
            "GAUNG_TELEGRAM_TOKEN": tg.token,
            "GAUNG_TELEGRAM_API_URL": tg.url,
            "GAUNG_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "GAUNG_PUBLIC_URL": "https://gaung.mojokertokab.go.id:8000",
        }
        done = run_gaung("serve", "--port", "0", settings=settings, cwd=tmp_path, timeout=60)
        assert tg.bot.webhook.url == "" and not tg.world.calls()  # refused before starting
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert "GAUNG_PUBLIC_URL" in line and "443, 80, 88 or 8443" in line
