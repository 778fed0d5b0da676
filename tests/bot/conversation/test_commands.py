"""/status, /bantuan, /berhenti, /hapus, /laporan, /dashboard and what is not understood."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.conversation import choices
from bot.conversation.flows import Settings
from bot.conversation.replies import Command, Other, Pressed, Text
from db.accounts.registration import asn_for_account
from db.accounts.signing import exchange_link
from db.models import ChatIdentity
from db.types import utcnow
from tests.bot.conversation.helpers import admin, data, do, only, tg
from tests.factories import add_asn, register

URL, KEY = "https://gaung.test", b"k" * 32


def test_status_stop_and_erase_for_a_registered_asn(session: Session) -> None:
    assert "belum terdaftar" in only(do(session, tg(1), Command("status"))).text
    assert "belum terdaftar" in only(do(session, tg(1), Command("berhenti"))).text
    asn = add_asn(session, opd="DINKES", opd_nama="Dinas Kesehatan", nama="Ani")
    register(session, asn, external_id="1")
    session.commit()
    status = only(do(session, tg(1), Command("status"))).text
    assert status.startswith(f"<b>Ani</b>\nNIP {asn.nip}\nDinas Kesehatan\nStatus: menerima")
    assert "0 unggahan diterima, 0 like dan 0 share" in status
    assert only(do(session, tg(1), Command("berhenti"))).text.startswith("Anda tidak akan")
    assert "Status: berhenti menerima" in only(do(session, tg(1), Command("status"))).text

    prompt = only(do(session, tg(1), Command("hapus")))
    assert "Akun Telegram Anda" in prompt.text
    assert [[b.data for b in row] for row in prompt.buttons] == [["h:y", "h:n"]]
    kept = only(do(session, tg(1), Pressed(data(prompt, "Batal"))))
    assert kept.text == "Data Anda tidak dihapus." and kept.replace
    assert asn_for_account(session, "telegram", "1") == asn
    erased = only(do(session, tg(1), Pressed(data(prompt, "Ya, hapus"))))
    assert erased.text.startswith("Data Anda sudah dihapus") and erased.replace
    assert session.exec(select(ChatIdentity)).all() == []
    nothing = only(do(session, tg(1), Pressed(choices.encode(choices.ERASE, choices.YES))))
    assert nothing.text == "Tidak ada data akun ini di Gaung."


def test_help_report_and_dashboard_depend_on_being_an_admin(session: Session) -> None:
    add_asn(session, opd="DINKES", opd_nama="Dinas Kesehatan")
    opd_admin = admin(session, "opd", "DINKES", 900)
    admin(session, "diskominfo", None, 800)
    plain = only(do(session, tg(1), Command("bantuan"))).text
    assert "/hapus" in plain and "/laporan" not in plain
    assert "/laporan" in only(do(session, tg(900), Command("help"))).text
    assert only(do(session, tg(1), Command("laporan"))).text == "Perintah ini khusus admin."
    own = only(do(session, tg(900), Command("laporan"))).text
    assert own.startswith("<b>Partisipasi 30 hari terakhir</b> — Dinas Kesehatan\nTerdaftar: 0/1")
    everyone = only(do(session, tg(800), Command("laporan"))).text
    assert " — semua OPD" in everyone
    assert only(do(session, tg(1), Command("dashboard"))).text == "Perintah ini khusus admin."
    assert "GAUNG_PUBLIC_URL" in only(do(session, tg(900), Command("dashboard"))).text
    unsigned = only(do(session, tg(900), Command("dashboard"), settings=Settings(public_url=URL)))
    assert "GAUNG_PUBLIC_URL" in unsigned.text  # a link needs the signing key as well
    signing = Settings(public_url=URL, signing_key=KEY)
    reply = only(do(session, tg(900), Command("dashboard"), settings=signing))
    token = reply.text.split("/dashboard/masuk?token=", 1)[1]
    assert reply.text.startswith("Tautan masuk dasbor") and f"{URL}/dashboard/masuk" in reply.text
    assert reply.no_preview  # the network must not spend the link by previewing it
    assert exchange_link(session, KEY, token, now=utcnow()) == f"admin:{opd_admin.id}"
    assert exchange_link(session, KEY, token, now=utcnow()) is None  # once only


def test_anything_else_is_not_understood_and_marks_the_person_reachable(session: Session) -> None:
    asn = add_asn(session, opd="DINKES")
    identity = register(session, asn, external_id="1")
    identity.reachable, identity.unreachable_reason = False, "blocked the bot"
    session.add(identity)
    session.commit()
    for action in (Text("halo"), Other(), Command("entah")):
        assert "tidak saya pahami" in only(do(session, tg(1), action)).text
    session.refresh(identity)
    assert identity.reachable and identity.unreachable_reason is None
