"""/klarifikasi on both channels, and the reach recap Diskominfo's admins get an hour after
approval (claimed once in the database, whichever worker looks)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.clarification import due_recaps, reach_recap_loop, recap_once
from bot.conversation.notifier import Notifier
from bot.conversation.replies import Command, Reply, Text
from db.accounts.admins import add_admin
from db.delivery.confirmations import confirm
from db.delivery.outbox import mark_sent
from db.engine import session_scope
from db.models import Post
from db.posts.lifecycle import approve_post, submit_post
from tests.bot.conversation.helpers import admin, do, only, tg, wa
from tests.factories import add_asn, delivery_of, register

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def approved(session: Session, slug: str = "k", *, at: datetime = NOW) -> int:
    post = submit_post(session, opd_kode="DINKES", url=f"https://instagram.com/p/{slug}")
    assert post.id is not None
    approve_post(session, post.id, now=at)
    session.commit()
    return post.id


def test_only_diskominfo_admins_mark_a_clarification_on_either_channel(session: Session) -> None:
    add_asn(session, opd="DINKES")
    admin(session, "opd", "DINKES", 900)
    admin(session, "diskominfo", None, 800)
    add_admin(session, role="diskominfo", phone="+6281200000001")
    session.commit()
    post_id = approved(session)
    refused = only(do(session, tg(900), Command("klarifikasi", str(post_id)))).text
    assert refused == "Perintah ini khusus admin Diskominfo."
    assert "nomor unggahan" in only(do(session, tg(800), Command("klarifikasi"))).text
    assert "nomor unggahan" in only(do(session, tg(800), Command("klarifikasi", "abc"))).text
    missing = only(do(session, tg(800), Command("klarifikasi", "999999"))).text
    assert missing.startswith("Unggahan #999999 tidak bisa") and "tidak ada" in missing
    done = only(do(session, tg(800), Command("klarifikasi", f"#{post_id}"))).text
    assert done.startswith(f"📢 Unggahan #{post_id} ditandai sebagai <b>klarifikasi</b>")
    post = session.get(Post, post_id)
    assert post is not None and post.clarification_at is not None
    # WhatsApp has no commands with arguments: the typed words arrive as text.
    again = only(do(session, wa("6281200000001"), Text(f"klarifikasi {post_id}"))).text
    assert again == f"Unggahan #{post_id} sudah ditandai sebagai klarifikasi."
    draft = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/draft")
    session.commit()
    not_yet = only(do(session, wa("6281200000001"), Text(f"/Klarifikasi {draft.id}"))).text
    assert "berstatus submitted" in not_yet
    assert "/klarifikasi" in only(do(session, tg(800), Command("bantuan"))).text
    assert "/klarifikasi" not in only(do(session, tg(900), Command("bantuan"))).text


class Inbox:
    """The channel edge of the notifier: what each chat was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        self.sent.append((chat_id, reply))


def test_reach_recap_goes_to_diskominfo_once_an_hour_after_approval(engine: Engine) -> None:
    with session_scope(engine) as session:
        asns = [add_asn(session, opd="DINKES") for _ in range(3)]
        for asn in asns:
            register(session, asn)
        admin(session, "diskominfo", None, 800)
        admin(session, "opd", "DINKES", 900)
        post_id = approved(session, "recap")
        for asn in asns[:2]:
            mark_sent(session, delivery_of(session, post_id, asn), "m", now=NOW)
        confirm(session, delivery_of(session, post_id, asns[0]), "like")
        confirm(session, delivery_of(session, post_id, asns[0]), "share")
        only(do(session, tg(800), Command("klarifikasi", str(post_id))))
    inbox = Inbox()
    notifier = Notifier(engine, {"telegram": inbox})
    early = NOW + timedelta(minutes=59)
    assert asyncio.run(recap_once(engine, notifier, now=early)) == 0
    assert asyncio.run(recap_once(engine, notifier, now=NOW + timedelta(hours=1))) == 1
    ((chat, reply),) = inbox.sent
    assert chat == "800"  # Diskominfo's admin only, not the OPD's
    assert reply.text.startswith(f"📊 <b>Rekap klarifikasi #{post_id}</b> dari OPD DINKES, 1 jam")
    assert "Terkirim 2 · dibuka 0 (diukur)\nLike 1 · share 1 (dikonfirmasi sendiri" in reply.text
    assert "Partisipasi 50,0% di 1 OPD" in reply.text
    assert asyncio.run(recap_once(engine, notifier, now=NOW + timedelta(hours=2))) == 0
    assert due_recaps(engine, now=NOW + timedelta(days=1)) == []
    assert len(inbox.sent) == 1


def test_the_worker_loop_sends_each_recap_once_until_stopped(engine: Engine) -> None:
    with session_scope(engine) as session:
        register(session, add_asn(session, opd="DINKES"))
        admin(session, "diskominfo", None, 800)
        post_id = approved(session, "loop")
        only(do(session, tg(800), Command("klarifikasi", str(post_id))))
    inbox = Inbox()
    notifier = Notifier(engine, {"telegram": inbox})

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.create_task(
            reach_recap_loop(
                engine, notifier, stop, interval=0.02, clock=lambda: NOW + timedelta(hours=1)
            )
        )
        await asyncio.sleep(0.3)  # many rounds
        stop.set()
        return await loop

    assert asyncio.run(run()) == 1
    assert [chat for chat, _ in inbox.sent] == ["800"]
