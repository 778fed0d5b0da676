"""Neutrality guards in chat (the core, no chat library): Setujui asks for the neutrality tick
with the warnings right above its buttons; a campaign period needs a second, different admin."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select

from bot.conversation.flows import Settings
from bot.conversation.replies import Address, Pressed, Reply, Text
from bot.texts import as_plain
from db.accounts.admins import add_admin
from db.models import AuditLog, Delivery, Post, PostApproval, PostStatus
from db.posts.guards import GuardRules
from db.posts.official import add_account
from db.types import utcnow
from tests.bot.conversation.helpers import PLAIN, data, do, only, tg, wa
from tests.bot.conversation.test_posts import regency

SOON = (utcnow() + timedelta(days=2)).date()
CAMPAIGN = Settings(guards=GuardRules(campaign_start=SOON - timedelta(days=4), campaign_end=SOON))


def review_of(session: Session, url: str, caption: str, settings: Settings = PLAIN) -> Reply:
    """OPD admin 900 submits; the review notice Diskominfo gets."""
    asked = only(do(session, tg(900), Text(url)))
    preview = only(do(session, tg(900), Text(caption)))
    assert asked.buttons
    outcome = do(session, tg(900), Pressed(data(preview, "Ajukan")), settings=settings)
    return outcome.notices[0].reply


def test_setujui_asks_for_the_tick_with_the_warnings_above_its_buttons(session: Session) -> None:
    regency(session)
    add_account(session, platform="instagram", handle="dinkesmjk", opd_kode="DINKES")
    session.commit()
    review = review_of(session, "https://instagram.com/relawan.x/p/1", "Ayo coblos paslon 2")
    text = as_plain(review.text)
    # The review notice itself warns, as its last lines.
    assert text.endswith(
        "⚠️ Periksa sebelum menyetujui:\n"
        "• memuat kata terkait politik/kampanye: coblos, paslon\n"
        "• akun instagram @relawan.x tidak ada di daftar akun resmi"
    )
    post = session.exec(select(Post)).one()
    asked = only(do(session, tg(801), Pressed(data(review, "semua OPD"))))
    plain = as_plain(asked.text)
    assert plain.startswith(f"Konfirmasi netralitas unggahan #{post.id} (semua OPD):")
    assert "tidak memuat calon, partai politik, atau kampanye" in plain
    assert plain.endswith("• akun instagram @relawan.x tidak ada di daftar akun resmi")
    assert [b.label for row in asked.buttons for b in row] == ["✅ Ya, netral", "Kembali"]
    assert all(len(b.label) <= 20 for row in asked.buttons for b in row)  # WhatsApp titles
    session.refresh(post)
    assert post.status == PostStatus.SUBMITTED
    assert session.exec(select(PostApproval)).all() == []
    assert session.exec(select(Delivery)).all() == []

    back = only(do(session, tg(801), Pressed(data(asked, "Kembali"))))
    assert back.replace and as_plain(back.text) == text and back.buttons == review.buttons

    done = do(session, tg(801), Pressed(data(asked, "Ya, netral")))
    assert only(done).text == f"✅ Unggahan #{post.id} disetujui; 1 pesan masuk antrean."
    approval = session.exec(select(PostApproval)).one()
    admin801 = approval.admin_id
    assert approval.approver == f"admin:{admin801}" and approval.neutral
    assert json.loads(approval.warnings or "[]") == [
        "memuat kata terkait politik/kampanye: coblos, paslon",
        "akun instagram @relawan.x tidak ada di daftar akun resmi",
    ]
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.actor == f"admin:{admin801}")
    ).all()
    assert actions == ["post.neutral", "post.approve"]


def test_a_listed_account_without_keywords_shows_no_warning(session: Session) -> None:
    regency(session)
    add_account(session, platform="instagram", handle="dinkesmjk", opd_kode="DINKES")
    session.commit()
    review = review_of(session, "https://www.instagram.com/dinkesmjk/p/1", "Posyandu serentak")
    assert "Periksa" not in review.text
    asked = only(do(session, tg(800), Pressed(data(review, "hanya Dinas Kesehatan"))))
    assert "Periksa" not in asked.text and "(hanya Dinas Kesehatan)" in asked.text


def test_in_a_campaign_period_a_second_different_admin_queues_it(session: Session) -> None:
    regency(session)
    session.commit()
    review = review_of(session, "https://instagram.com/p/k", "Posyandu", CAMPAIGN)
    post = session.exec(select(Post)).one()
    asked = only(do(session, tg(800), Pressed(data(review, "semua OPD")), settings=CAMPAIGN))
    assert (
        "Masa kampanye: unggahan perlu disetujui dua admin Diskominfo yang berbeda (0 dari 2"
        in (as_plain(asked.text))
    )
    first = do(session, tg(800), Pressed(data(asked, "Ya, netral")), settings=CAMPAIGN)
    assert only(first).text.startswith(f"☑️ Persetujuan pertama unggahan #{post.id} tercatat.")
    # The other Diskominfo admin is asked for the second approval, with the review buttons.
    (ask,) = first.notices
    assert ask.to == Address("telegram", "801", "801")
    assert as_plain(ask.reply.text).startswith(
        f"⏳ Unggahan #{post.id} menunggu persetujuan kedua (masa kampanye)."
    )
    session.refresh(post)
    assert post.status == PostStatus.SUBMITTED and session.exec(select(Delivery)).all() == []

    # The same admin again (an old message's buttons): refused, before and at the tick.
    again = only(do(session, tg(800), Pressed(data(review, "semua OPD")), settings=CAMPAIGN))
    assert again.text == (
        f"Unggahan #{post.id} sudah Anda setujui. Masa kampanye memerlukan persetujuan kedua "
        "dari admin Diskominfo lain."
    )
    tick = only(do(session, tg(800), Pressed(data(asked, "Ya, netral")), settings=CAMPAIGN))
    assert "persetujuan kedua dari admin Diskominfo lain" in tick.text
    session.refresh(post)
    assert post.status == PostStatus.SUBMITTED

    second_ask = only(
        do(session, tg(801), Pressed(data(ask.reply, "semua OPD")), settings=CAMPAIGN)
    )
    assert "(1 dari 2 sudah)" in second_ask.text
    second = do(session, tg(801), Pressed(data(second_ask, "Ya, netral")), settings=CAMPAIGN)
    assert only(second).text == f"✅ Unggahan #{post.id} disetujui; 1 pesan masuk antrean."
    assert [n.to for n in second.notices] == [Address("telegram", "900", "900")]
    session.refresh(post)
    assert post.status == PostStatus.APPROVED
    assert len(session.exec(select(PostApproval)).all()) == 2


def test_the_tick_on_whatsapp_fits_its_buttons(session: Session) -> None:
    regency(session)
    add_admin(session, role="diskominfo", opd_kode=None, phone="+6281234567001")
    session.commit()
    review_of(session, "https://instagram.com/p/w", "Halo")
    post = session.exec(select(Post)).one()
    who = wa("6281234567001")
    asked = only(do(session, who, Pressed(f"a:{post.id}:all")))
    assert [b.label for row in asked.buttons for b in row] == ["✅ Ya, netral", "Kembali"]
    done = only(do(session, who, Pressed(data(asked, "Ya, netral"))))
    assert done.text.startswith(f"✅ Unggahan #{post.id} disetujui")
