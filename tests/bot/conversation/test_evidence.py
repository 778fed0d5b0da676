"""Share evidence: after a Share tap, the ASN's next link (within an hour) is that share's
evidence; a bad link or a picture gets a clear word; an admin's link still submits a post."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from bot.conversation import choices
from bot.conversation.replies import Other, Pressed, Text
from db.delivery.confirmations import Tap, record_taps
from db.delivery.evidence import EVIDENCE
from db.delivery.outbox import mark_sent
from db.models import Asn, ChatState, Confirmation, Post
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.bot.conversation.helpers import admin, do, only, tg, wa
from tests.factories import add_asn, delivery_of, register

REPOST = "https://www.instagram.com/p/RepostAni/"


def sent_post(session: Session, asn: Asn, slug: str) -> int:
    """A post approved and sent to ``asn``; returns the delivery id."""
    post = submit_post(session, opd_kode="DINKES", url=f"https://instagram.com/p/{slug}")
    assert post.id is not None
    approve_post(session, post.id)
    delivery = delivery_of(session, post.id, asn)
    mark_sent(session, delivery, "m")
    session.commit()
    assert delivery.id is not None
    return delivery.id


def evidence(session: Session) -> dict[int, str | None]:
    session.expire_all()
    return {
        c.delivery_id: c.evidence_url
        for c in session.exec(select(Confirmation).where(Confirmation.kind == "share"))
    }


def share(session: Session, who: object, delivery_id: int) -> str | None:
    outcome = do(session, who, Pressed(choices.tap_data(delivery_id, "share")))  # type: ignore[arg-type]
    return outcome.answer


def test_a_link_after_a_share_tap_is_its_evidence_on_either_channel(session: Session) -> None:
    ani, budi = add_asn(session, opd="DINKES"), add_asn(session, opd="DINKES")
    register(session, ani, external_id="77")
    register(session, budi, channel="whatsapp", external_id="6281200000077")
    session.commit()
    first, second = sent_post(session, ani, "a1"), sent_post(session, ani, "a2")
    on_wa = sent_post(session, budi, "a1b")
    toast = share(session, tg(77), first)
    assert toast is not None and "kirim tautan repost Anda" in toast
    share(session, tg(77), second)  # the latest share is the one a link belongs to
    saved = only(do(session, tg(77), Text(f" {REPOST} "))).text
    assert saved == "Terima kasih! Tautan Instagram Anda tersimpan sebagai bukti share."
    assert evidence(session) == {first: None, second: REPOST}
    # A second link within the hour replaces the first.
    do(session, tg(77), Text("https://vt.tiktok.com/ZSabc/"))
    assert evidence(session)[second] == "https://vt.tiktok.com/ZSabc/"
    # WhatsApp: the same through the core.
    share(session, wa("6281200000077"), on_wa)
    said = "ini repost saya https://x.com/budi/status/1 ya"
    assert "tersimpan" in only(do(session, wa("6281200000077"), Text(said))).text
    assert evidence(session)[on_wa] == "https://x.com/budi/status/1"


def test_bad_links_and_pictures_are_refused_with_a_reason(session: Session) -> None:
    ani = add_asn(session, opd="DINKES")
    register(session, ani, external_id="77")
    session.commit()
    delivery = sent_post(session, ani, "b1")
    # A picture with no share waiting is simply not understood.
    assert "kirim tautannya saja" not in only(do(session, tg(77), Other())).text.lower()
    share(session, tg(77), delivery)
    picture = only(do(session, tg(77), Other())).text
    assert picture.startswith("Terima kasih, tetapi Gaung tidak menyimpan tangkapan layar.")
    news = only(do(session, tg(77), Text("https://berita.example.id/artikel/1"))).text
    assert news.startswith("Tautan bukti tidak disimpan: bukan tautan Instagram, Facebook")
    scheme = only(do(session, tg(77), Text("ftp://instagram.com/p/x"))).text
    assert "harus diawali http:// atau https://" in scheme
    original = only(do(session, tg(77), Text("https://instagram.com/p/b1/"))).text
    assert "itu tautan unggahan aslinya" in original
    assert evidence(session) == {delivery: None}


def test_an_hour_after_the_tap_a_link_is_no_longer_evidence(session: Session) -> None:
    ani = add_asn(session, opd="DINKES")
    register(session, ani, external_id="77")
    session.commit()
    delivery = sent_post(session, ani, "c1")
    share(session, tg(77), delivery)
    state = session.get(ChatState, ("telegram", "77"))
    assert state is not None and state.state == EVIDENCE
    state.updated_at = utcnow() - timedelta(hours=1, seconds=1)
    session.add(state)
    session.commit()
    late = only(do(session, tg(77), Text(REPOST))).text
    assert late.startswith("Hanya admin OPD yang bisa mengajukan unggahan")
    assert evidence(session) == {delivery: None}


def test_an_admins_link_is_always_a_submission(session: Session) -> None:
    """An OPD admin who is also an ASN taps Share, then sends a post link: it is submitted;
    and a Share tapped while writing a caption does not interrupt the submission."""
    admin_asn = add_asn(session, opd="DINKES")
    register(session, admin_asn, external_id="900")
    admin(session, "opd", "DINKES", 900)
    first, second = sent_post(session, admin_asn, "d1"), sent_post(session, admin_asn, "d2")
    share(session, tg(900), first)
    asked = only(do(session, tg(900), Text("https://www.instagram.com/p/BaruDinkes/"))).text
    assert "Tautan Instagram diterima" in asked
    share(session, tg(900), second)  # mid-submission: the caption state stays
    state = session.get(ChatState, ("telegram", "900"))
    assert state is not None and state.state == "caption"
    preview = only(do(session, tg(900), Text("Posyandu serentak"))).text
    assert "Pratinjau unggahan" in preview
    assert evidence(session) == {first: None, second: None}
    assert session.exec(select(Post).where(Post.status == "submitted")).all() == []  # not yet


def test_a_batch_of_taps_arms_the_latest_share_per_person(session: Session) -> None:
    """The webhook records many taps in one transaction: one person's two shares in a batch
    leave the later one waiting for evidence, and other people's states are untouched."""
    ani, budi = add_asn(session, opd="DINKES"), add_asn(session, opd="DINKES")
    register(session, ani, external_id="77")
    register(session, budi, external_id="78")
    session.commit()
    a1, a2 = sent_post(session, ani, "e1"), sent_post(session, ani, "e2")
    b1 = sent_post(session, budi, "e3")
    record_taps(
        session,
        "telegram",
        [Tap(a1, "share", "77"), Tap(a2, "share", "77"), Tap(b1, "like", "78")],
    )
    session.commit()
    state = session.get(ChatState, ("telegram", "77"))
    assert state is not None and state.state == EVIDENCE and str(a2) in (state.data or "")
    assert session.get(ChatState, ("telegram", "78")) is None  # a like asks for nothing


def test_erasure_drops_the_link_but_keeps_the_count(session: Session) -> None:
    """The repost link names the person's own account: ``/hapus`` removes it, the export
    shows it before; the OPD's count of shares with evidence does not move."""
    from db.accounts.personal import export_asn
    from db.reporting.participation import participation

    ani = add_asn(session, opd="DINKES")
    register(session, ani, external_id="77")
    session.commit()
    delivery = sent_post(session, ani, "f1")
    share(session, tg(77), delivery)
    do(session, tg(77), Text(REPOST))
    exported = export_asn(session, ani)
    shares = [c for d in exported["deliveries"] for c in d["confirmations"]]
    assert shares[0]["evidence_url"] == REPOST
    assert participation(session, None).total.shared_with_evidence == 1
    erase = do(session, tg(77), Pressed(choices.encode(choices.ERASE, choices.YES)))
    assert "dihapus" in only(erase).text
    assert evidence(session) == {delivery: None}
    assert participation(session, None).total.shared_with_evidence == 1
