"""Registration by contact and by NIP, and an OPD admin's decision, without a chat library."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.conversation import choices
from bot.conversation.replies import Address, Command, Contact, Pressed, Text
from db.accounts.registration import asn_for_account
from db.models import AdminIdentity
from tests.bot.conversation.helpers import admin, data, do, only, tg, wa
from tests.factories import add_asn


def test_start_explains_consent_and_offers_the_own_number_control(session: Session) -> None:
    reply = only(do(session, tg(1), Command("start")))
    assert reply.ask_contact and not reply.buttons
    assert "<b>Gaung</b>" in reply.text and "ID akun Telegram Anda" in reply.text
    assert "/hapus" in reply.text and "Bagikan nomor saya" in reply.text
    on_whatsapp = only(do(session, wa("6281200000001"), Command("start")))
    assert "ID akun WhatsApp Anda" in on_whatsapp.text


def test_own_contact_in_the_roster_registers_at_once(session: Session) -> None:
    asn = add_asn(
        session, opd="DINKES", opd_nama="Dinas Kesehatan", nama="Ani", phone="081211110001"
    )
    session.commit()
    refused = only(do(session, tg(1), Contact("+6281211110001", owner="2")))
    assert "kontak orang lain" in refused.text and not refused.close_keyboard
    unknown = only(do(session, tg(1), Contact("6281299999999", owner="1")))
    assert "+6281299999999 tidak ada di daftar" in unknown.text
    done = only(do(session, tg(1), Contact("6281211110001", owner="1")))
    assert done.text.startswith("✅ Terdaftar: Ani, Dinas Kesehatan") and done.close_keyboard
    assert asn_for_account(session, "telegram", "1") == asn
    again = only(do(session, tg(1), Command("start")))
    assert again.text == "Anda sudah terdaftar sebagai Ani (Dinas Kesehatan)."
    assert again.close_keyboard
    only(do(session, tg(1), Command("berhenti")))
    back = only(do(session, tg(1), Command("start")))
    assert back.text.startswith("Selamat datang kembali, Ani.")
    taken = only(do(session, tg(2), Contact("6281211110001", owner="2")))
    assert "sudah terdaftar dengan akun Telegram lain" in taken.text


def test_a_nip_goes_to_every_account_of_the_opd_admins_who_decide(session: Session) -> None:
    asn = add_asn(session, opd="DINKES", opd_nama="Dinas Kesehatan", nama="Budi & Co")
    add_asn(session, opd="DISPORA")
    opd_admin = admin(session, "opd", "DINKES", 900)
    other_admin = admin(session, "opd", "DISPORA", 901)
    assert opd_admin.id is not None
    session.add(
        AdminIdentity(admin_id=opd_admin.id, channel="whatsapp", external_id="628", chat_id="628")
    )
    session.commit()
    asker = tg(5, name="Budi (@budi)")
    outcome = do(session, asker, Text(asn.nip))
    assert "sudah dikirim ke admin OPD" in only(outcome).text
    assert [n.to for n in outcome.notices] == [
        Address("telegram", "900", "900"),
        Address("whatsapp", "628", "628"),
    ]
    ask = outcome.notices[0].reply
    assert "Budi &amp; Co" in ask.text and f"NIP {asn.nip}" in ask.text
    assert "Akun Telegram: Budi (@budi)" in ask.text
    approve, reject = data(ask, "Setujui"), data(ask, "Tolak")
    parsed = choices.decode(approve)
    assert parsed is not None and parsed.kind == choices.REGISTRATION
    assert choices.decode(reject) == choices.Choice(choices.REGISTRATION, "r", parsed.ref)
    pending = only(do(session, asker, Text(asn.nip)))
    assert "masih menunggu" in pending.text

    wrong = only(do(session, tg(901), Pressed(approve)))
    assert "sudah diputuskan" in wrong.text and "bukan admin OPD" in wrong.text
    assert other_admin.id is not None
    stranger = only(do(session, tg(4242), Pressed(approve)))
    assert stranger.text == "Perintah ini khusus admin." and stranger.replace

    decided = do(session, tg(900), Pressed(approve))
    assert only(decided).text == "✅ Disetujui: Budi &amp; Co" and only(decided).replace
    assert [(n.to, n.reply.text) for n in decided.notices] == [
        (
            Address("telegram", "5", "5"),
            "✅ Admin OPD menyetujui pendaftaran Anda: Budi &amp; Co, Dinas Kesehatan.",
        )
    ]
    assert asn_for_account(session, "telegram", "5") == asn
    twice = only(do(session, tg(900), Pressed(reject)))
    assert twice.text.startswith("Permintaan ini sudah diputuskan.")


def test_a_rejected_nip_request_tells_the_asker(session: Session) -> None:
    asn = add_asn(session, opd="DINKES")
    admin(session, "opd", "DINKES", 900)
    ask = do(session, wa("6281300000001"), Text(asn.nip)).notices[0].reply
    decided = do(session, tg(900), Pressed(data(ask, "Tolak")))
    assert only(decided).text.startswith("❌ Ditolak:")
    assert decided.notices[0].to == Address("whatsapp", "6281300000001", "6281300000001")
    assert "tidak menyetujui" in decided.notices[0].reply.text
    assert asn_for_account(session, "whatsapp", "6281300000001") is None


def test_a_nip_with_no_admin_is_recorded_and_said_so(session: Session) -> None:
    asn = add_asn(session, opd="DINKES")
    session.commit()
    outcome = do(session, tg(5), Text(asn.nip))
    assert "belum terhubung ke Gaung" in only(outcome).text and outcome.notices == []
    missing = only(do(session, tg(6), Text("199001012020011999")))
    assert missing.text.startswith("NIP 199001012020011999 tidak ada di daftar")
    assert session.exec(select(AdminIdentity)).all() == []
