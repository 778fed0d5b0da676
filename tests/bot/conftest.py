"""Chat-side fixtures: an emulated Telegram and ASN who exist both there and in the roster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from bot.emulators.telegram import Limits, TelegramEmulator
from db.engine import session_scope
from tests.factories import add_asn, register


@pytest.fixture
def tg() -> Iterator[TelegramEmulator]:
    with TelegramEmulator(Limits(rate=1000, burst=200, chat_burst=10)) as emulator:
        yield emulator


@dataclass(frozen=True)
class Member:
    asn_id: int
    user_id: int
    opd: str


def registered_members(
    engine: Engine, tg: TelegramEmulator, count: int, *, opds: tuple[str, ...] = ("DINKES",)
) -> list[Member]:
    """ASN in the roster, each linked to an emulated Telegram user who pressed Start."""
    members = []
    with session_scope(engine) as session:
        for n in range(count):
            opd = opds[n % len(opds)]
            user = tg.world.add_user(f"ASN {n}", started=True)
            asn = add_asn(session, opd=opd)
            register(session, asn, external_id=str(user.id))
            assert asn.id is not None
            members.append(Member(asn.id, user.id, opd))
    return members
