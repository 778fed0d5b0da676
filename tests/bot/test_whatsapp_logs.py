"""No phone number in the logs (issue 12) where a chat id is one: on WhatsApp the chat id of a
person or an admin *is* their number, so a log line that names the chat names the phone."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import Engine

from bot.conversation.notifier import Notifier
from bot.conversation.replies import Address, Notice, Reply
from bot.ratelimit import LocalLedger, Pacer, Priority
from bot.texts import Markup

NUMBER = "6281234567890"


class Failing:
    """An outbound whose every send fails, with the recipient in its message as an HTTP
    library's error may have it."""

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        raise RuntimeError(f"POST to {chat_id} failed")


class NoTurns(LocalLedger):
    async def reserve_chat(self, chat: str, interval: float) -> float:
        raise RuntimeError(f"database away while reserving {chat}")


def test_a_failed_notice_logs_no_number(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    notice = Notice(Address("whatsapp", NUMBER, NUMBER), Reply(Markup("halo")))
    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(Notifier(engine, {"whatsapp": Failing()}).tell([notice])) == 0
        assert asyncio.run(Notifier(engine).tell([notice])) == 0  # no WhatsApp here at all
    assert caplog.records, "the failures are logged"
    assert NUMBER not in caplog.text


def test_a_reply_turn_not_reserved_logs_no_number(caplog: pytest.LogCaptureFixture) -> None:
    async def reply() -> None:
        pacer = Pacer(100, ledger=NoTurns())
        await asyncio.wait_for(pacer.acquire(NUMBER, Priority.REPLY), 5)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(reply())
    assert caplog.records, "the failure is logged"
    assert NUMBER not in caplog.text
