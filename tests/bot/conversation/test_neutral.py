"""The parts every channel shares: the choice codec, the light markup, the notifier, and no
chat library inside the conversation core."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.channels.base import Unreachable
from bot.conversation import choices
from bot.conversation.notifier import Notifier
from bot.conversation.replies import Address, Notice, Reply
from bot.texts import ID, Markup, as_plain, as_whatsapp, th
from db.models import ChatIdentity
from tests.factories import add_asn, register

CORE = Path(__file__).resolve().parents[3] / "bot" / "conversation"


def test_the_conversation_core_imports_no_chat_library() -> None:
    imported: set[str] = set()
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    assert {"telegram", "pywa", "httpx"}.isdisjoint(m.split(".")[0] for m in imported)
    assert not any(m.startswith(("bot.telegram", "bot.whatsapp")) for m in imported)


def test_choices_round_trip_and_stay_within_64_bytes() -> None:
    big = 2**63 - 1
    for kind, actions in choices.ACTIONS.items():
        for action in actions:
            ref = big if kind in choices.WITH_ID else None
            data = choices.encode(kind, action, ref)
            assert len(data.encode()) <= choices.MAX_BYTES
            assert choices.decode(data) == choices.Choice(kind, action, ref)
    assert choices.tap_data(5, "like") == "g1:5:l" and choices.tap_data(5, "share") == "g1:5:s"
    assert choices.parse_tap("g1:5:s") == (5, "share")
    for junk in ("", "g1", "g1:abc:l", "g1:5:x", "g1:5", "h:y:1", "r:1:z", "p:go:1", "zz:1:a"):
        assert choices.decode(junk) is None, junk
    assert choices.parse_tap("h:y") is None and choices.parse_tap("r:5:a") is None
    with pytest.raises(ValueError):
        choices.encode(choices.TAP, "l")  # a tap needs its delivery


def test_the_catalogue_uses_one_light_markup_both_renderers_read() -> None:
    tags = {tag for text in ID.values() for tag in re.findall(r"<[^>]*>", text)}
    assert tags <= {"<b>", "</b>"}
    text = th(
        "status.body",
        nama="A & <B>",
        nip="1",
        opd="O",
        state=Markup("aktif"),
        delivered=1,
        liked=0,
        shared=0,
    )
    assert text.startswith("<b>A &amp; &lt;B&gt;</b>\n")
    assert as_whatsapp(text).startswith("*A & <B>*\nNIP 1")
    assert as_plain(text).startswith("A & <B>\nNIP 1")


class Recorder:
    """An outbound that keeps what it was given (the network edge), or refuses one chat."""

    def __init__(self, blocked: str = "") -> None:
        self.sent: list[tuple[str, str]] = []
        self.blocked = blocked

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        if chat_id == self.blocked:
            raise Unreachable("Forbidden: bot was blocked by the user")
        if chat_id == "boom":
            raise RuntimeError("network down")
        self.sent.append((chat_id, reply.text))


def test_the_notifier_reaches_each_channel_and_notes_a_block(
    engine: Engine, session: Session
) -> None:
    asn = add_asn(session, opd="DINKES")
    register(session, asn, external_id="13")
    session.commit()
    telegram, whatsapp = Recorder(blocked="13"), Recorder()
    notifier = Notifier(engine, {"telegram": telegram})
    notifier.add("whatsapp", whatsapp)
    hello = Reply(Markup("halo"))
    notices = [
        Notice(Address("telegram", "11", "11"), hello),
        Notice(Address("whatsapp", "628", "628"), hello),
        Notice(Address("telegram", "13", "13"), hello),
        Notice(Address("telegram", "boom", "boom"), hello),
    ]
    assert asyncio.run(notifier.tell(notices)) == 2
    assert telegram.sent == [("11", "halo")] and whatsapp.sent == [("628", "halo")]
    identity = session.exec(select(ChatIdentity).where(ChatIdentity.external_id == "13")).one()
    session.refresh(identity)
    assert not identity.reachable and "blocked" in (identity.unreachable_reason or "")
    assert asyncio.run(Notifier(engine).tell(notices[:1])) == 0  # no channel: skipped, not raised
