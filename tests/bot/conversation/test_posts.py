"""An OPD admin submits a link; Diskominfo approves or rejects it; Like/Share taps."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.conversation import choices
from bot.conversation.replies import Address, Outcome, Pressed, Text
from bot.texts import as_plain
from db.delivery.outbox import mark_sent
from db.models import Delivery, Post, PostStatus
from tests.bot.conversation.helpers import admin, data, do, only, tg
from tests.factories import add_asn, delivery_of, register


def submit(session: Session, url: str, caption: str | None) -> Outcome:
    """OPD admin 900 of DINKES submits ``url``; returns the outcome of pressing Ajukan."""
    asked = only(do(session, tg(900), Text(f"  {url} ")))
    assert "Tautan Instagram diterima" in asked.text
    if caption is None:
        preview = only(do(session, tg(900), Pressed(data(asked, "Lewati"))))
        assert preview.replace
    else:
        preview = only(do(session, tg(900), Text(caption)))
    assert (
        f"Pratinjau unggahan Dinas Kesehatan:\n\n{caption + chr(10) * 2 if caption else ''}{url}"
        in as_plain(preview.text)
    )
    return do(session, tg(900), Pressed(data(preview, "Ajukan")))


def regency(session: Session) -> None:
    register(session, add_asn(session, opd="DINKES", opd_nama="Dinas Kesehatan"))
    add_asn(session, opd="DISKOMINFO", opd_nama="Dinas Kominfo")
    admin(session, "opd", "DINKES", 900)
    admin(session, "diskominfo", None, 800)
    admin(session, "diskominfo", None, 801)


def test_a_submission_reaches_every_reviewer_and_approval_tells_the_submitter(
    session: Session,
) -> None:
    regency(session)
    outcome = submit(session, "https://www.instagram.com/p/abc/", "Ayo <vaksin>")
    post = session.exec(select(Post)).one()
    assert post.status == PostStatus.SUBMITTED and post.caption == "Ayo <vaksin>"
    assert only(outcome).text.startswith(f"Unggahan #{post.id} diajukan") and only(outcome).replace
    assert [n.to for n in outcome.notices] == [
        Address("telegram", "800", "800"),
        Address("telegram", "801", "801"),
    ]
    review = outcome.notices[0].reply
    assert "Ayo &lt;vaksin&gt;" in review.text and "dari Dinas Kesehatan (Instagram)" in review.text
    assert [len(row) for row in review.buttons] == [1, 1, 1]
    own = data(review, "hanya Dinas Kesehatan")
    assert own == f"a:{post.id}:own"

    assert only(do(session, tg(900), Pressed(own))).text == "Perintah ini khusus admin."
    asked = only(do(session, tg(801), Pressed(own)))
    assert asked.text.startswith(f"Konfirmasi netralitas unggahan #{post.id}") and asked.replace
    session.refresh(post)
    assert post.status == PostStatus.SUBMITTED  # nothing queued before the tick
    approved = do(session, tg(801), Pressed(data(asked, "Ya, netral")))
    assert only(approved).text == f"✅ Unggahan #{post.id} disetujui; 1 pesan masuk antrean."
    session.refresh(post)
    assert post.status == PostStatus.APPROVED and not post.target_all
    assert [(n.to, n.reply.text) for n in approved.notices] == [
        (
            Address("telegram", "900", "900"),
            f"✅ Unggahan #{post.id} Anda disetujui Diskominfo dan sedang dikirim ke 1 ASN.",
        )
    ]
    late = only(do(session, tg(800), Pressed(data(review, "semua OPD"))))
    assert late.text.startswith(f"Unggahan #{post.id}: ")


def test_a_rejection_asks_for_the_reason_and_passes_it_on(session: Session) -> None:
    regency(session)
    review = submit(session, "https://instagram.com/p/xyz", None).notices[0].reply
    post = session.exec(select(Post)).one()
    asked = only(do(session, tg(800), Pressed(data(review, "Tolak"))))
    assert asked.text == f"Tulis alasan penolakan unggahan #{post.id}:" and asked.replace
    rejected = do(session, tg(800), Text("  Foto buram "))
    assert only(rejected).text == f"❌ Unggahan #{post.id} ditolak: Foto buram"
    assert rejected.notices[0].to == Address("telegram", "900", "900")
    assert rejected.notices[0].reply.text.endswith("Alasan: Foto buram")
    session.refresh(post)
    assert post.status == PostStatus.REJECTED
    # the reason was the last step: the next text is not taken as one
    assert "tidak saya pahami" in only(do(session, tg(800), Text("lagi"))).text


def test_drafts_refuse_strangers_long_captions_and_can_be_cancelled(session: Session) -> None:
    regency(session)
    assert "Hanya admin OPD" in only(do(session, tg(5), Text("https://instagram.com/p/1"))).text
    assert "akun Telegram Anda" in only(do(session, tg(5), Text("https://instagram.com/p/1"))).text
    bad = only(do(session, tg(900), Text("ftp://example.com/x")))
    assert bad.text.startswith("Tautan ditolak:")
    only(do(session, tg(900), Text("https://instagram.com/p/2")))
    too_long = only(do(session, tg(900), Text("x" * 2000)))
    assert too_long.text.startswith("Keterangan terlalu panjang (2000 karakter")
    preview = only(do(session, tg(900), Text("singkat")))
    cancelled = only(do(session, tg(900), Pressed(data(preview, "Batal"))))
    assert cancelled.text == "Pengajuan dibatalkan." and cancelled.replace
    stale = only(do(session, tg(900), Pressed(data(preview, "Ajukan"))))
    assert "tidak saya pahami" in stale.text
    assert session.exec(select(Post)).all() == []


def test_taps_are_recorded_once_and_ask_for_a_redraw(session: Session) -> None:
    regency(session)
    asn = add_asn(session, opd="DINKES")
    register(session, asn, external_id="77")
    review = submit(session, "https://instagram.com/p/t", "t").notices[0].reply
    asked = only(do(session, tg(800), Pressed(data(review, "semua OPD"))))
    do(session, tg(800), Pressed(data(asked, "Ya, netral")))
    post = session.exec(select(Post)).one()
    assert post.id is not None
    delivery = delivery_of(session, post.id, asn)
    mark_sent(session, delivery, "1")
    session.commit()
    assert delivery.id is not None
    like = choices.tap_data(delivery.id, "like")
    assert like == f"g1:{delivery.id}:l"
    first = do(session, tg(77), Pressed(like))
    assert (first.answer, first.redraw, first.replies) == ("Terima kasih! Like tercatat.", True, [])
    again = do(session, tg(77), Pressed(like))
    assert (again.answer, again.redraw) == ("Sudah tercatat sebelumnya.", False)
    stranger = do(session, tg(78), Pressed(choices.tap_data(delivery.id, "share")))
    assert (stranger.answer, stranger.redraw) == ("Tombol ini tidak berlaku.", False)
    forged = do(session, tg(77), Pressed("g1:abc:zz"))
    assert (forged.answer, forged.replies, forged.notices) == ("Tombol ini tidak berlaku.", [], [])
    assert session.get(Delivery, delivery.id) is not None
