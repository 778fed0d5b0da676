"""Registration by contact and by NIP, and an OPD admin's decision, without a chat library."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from bot.conversation import choices
from bot.conversation.flows import Settings
from bot.conversation.replies import Address, Command, Contact, Pressed, Text
from db.accounts.registration import asn_for_account
from db.models import AdminIdentity, Asn, ChatAllowance
from db.roster.file import RawRow
from db.roster.importer import import_rows
from db.settings import load_settings
from tests.bot.conversation.helpers import admin, data, do, only, tg, wa
from tests.factories import TODAY, add_asn, new_nip, register

NEUTRAL = (
    "Terima kasih. Bila NIP itu tercatat di daftar ASN dan belum terdaftar, admin OPD-nya akan "
    "memeriksa permintaan Anda, dan Anda akan diberi tahu bila disetujui. Bila tidak ada kabar, "
    "hubungi admin kepegawaian OPD Anda."
)


def test_start_explains_consent_and_offers_the_own_number_control(session: Session) -> None:
    reply = only(do(session, tg(1), Command("start")))
    assert reply.ask_contact and not reply.buttons
    assert "<b>Gaung</b>" in reply.text and "ID akun Telegram Anda" in reply.text
    assert "/hapus" in reply.text and "Bagikan nomor saya" in reply.text
    on_whatsapp = only(do(session, wa("6281200000001"), Command("start")))
    assert "ID akun WhatsApp Anda" in on_whatsapp.text


def test_the_consent_text_states_the_retention_period_in_force(session: Session) -> None:
    """The person agrees to the period the deployment keeps their detail for
    (``GAUNG_RETENTION_MONTHS``), on either channel, not to a number written in the text."""
    deployed = Settings.of(load_settings(_env_file=None))
    assert "dihapus 12 bulan setelah" in only(do(session, tg(1), Command("start"))).text
    longer = Settings.of(load_settings(retention_months=24, _env_file=None))
    for who in (tg(2), wa("6281200000002")):
        text = only(do(session, who, Command("start"), settings=longer)).text
        assert "dihapus 24 bulan setelah" in text and "12 bulan" not in text
    assert deployed.retention_months == 12


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
    assert only(outcome).text == NEUTRAL
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
    pending = do(session, asker, Text(asn.nip))
    assert only(pending).text == NEUTRAL and pending.notices == []  # no second page

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


def test_a_typed_nip_reveals_nothing_about_whether_or_whose_it_is(session: Session) -> None:
    """Existing, unknown, inactive, already someone else's, already asked, no admin: a stranger
    hears the same words each time, naming no one."""
    here = add_asn(session, opd="DINKES", nama="Sri Rahayu")
    gone = add_asn(session, opd="DINKES", nama="Joko Susilo")
    taken = add_asn(session, opd="DINKES", nama="Tuti Handayani")
    gone.active = False
    session.add(gone)
    session.commit()
    register(session, taken, external_id="77")
    session.commit()
    answers = [
        do(session, tg(n), Text(nip))
        for n, nip in [
            (5, here.nip),  # exists; its OPD has no admin connected yet
            (5, here.nip),  # asked again
            (6, "199001012020011999"),  # not in the roster
            (7, gone.nip),  # inactive
            (8, taken.nip),  # registered by another account
        ]
    ]
    assert [only(a).text for a in answers] == [NEUTRAL] * 5
    assert all(a.notices == [] for a in answers)
    for name in ("Sri", "Joko", "Tuti", "Dinas"):
        assert all(name not in only(a).text for a in answers)
    assert session.exec(select(AdminIdentity)).all() == []
    # A malformed number is said to be malformed: that tells nothing about anyone.
    assert "tidak valid" in only(do(session, tg(9), Text("199999999999999999"))).text.lower()


def test_an_account_already_registered_hears_its_own_registration(session: Session) -> None:
    mine = add_asn(session, opd="DINKES", opd_nama="Dinas Kesehatan", nama="Ani")
    other = add_asn(session, opd="DISPORA", nama="Bambang")
    session.commit()
    register(session, mine, external_id="5")
    session.commit()
    for typed in (mine.nip, other.nip, "199001012020011999"):
        reply = only(do(session, tg(5), Text(typed)))
        assert reply.text == "Anda sudah terdaftar sebagai Ani (Dinas Kesehatan)."


def test_nip_tries_are_limited_per_account_in_the_database(session: Session) -> None:
    asn = add_asn(session, opd="DINKES")
    session.commit()
    strict = Settings(nip_attempts_per_day=3)
    tries = [
        only(do(session, tg(5), Text(f"19900101201001199{i}"), settings=strict)) for i in range(4)
    ]
    assert [t.text for t in tries[:3]] == [NEUTRAL] * 3
    assert tries[3].text.startswith("Anda sudah 3 kali mengetik NIP hari ini")
    # Even the right NIP waits for tomorrow; another account has its own allowance.
    assert only(do(session, tg(5), Text(asn.nip), settings=strict)).text == tries[3].text
    assert only(do(session, tg(6), Text(asn.nip), settings=strict)).text == NEUTRAL


def test_the_deployment_allows_five_nip_tries_a_day_counted_in_the_database(
    session: Session,
) -> None:
    """Issue 12's default as ``gaung serve`` and ``gaung bot`` configure it: five tries a day
    per account. The count is the account's ``chat_allowance`` row, not process memory: a
    restart or a second process reads the same row, and moving its window back a day is what
    gives the account its tries again."""
    deployed = Settings.of(load_settings(_env_file=None))
    tries = [only(do(session, tg(5), Text(new_nip()), settings=deployed)).text for _ in range(6)]
    assert tries[:5] == [NEUTRAL] * 5
    assert tries[5].startswith("Anda sudah 5 kali mengetik NIP hari ini")
    row = session.exec(select(ChatAllowance).where(ChatAllowance.kind == "nip")).one()
    assert (row.subject, row.used) == ("telegram:5", 5)
    row.window_start -= timedelta(days=1, seconds=1)
    session.add(row)
    session.commit()
    assert only(do(session, tg(5), Text(new_nip()), settings=deployed)).text == NEUTRAL


PPPK = "199009132023211014"  # the contract's NI PPPK: 21 work agreements, not a month


def test_an_ni_pppk_typed_in_chat_reaches_the_admin_like_a_pns_nip(session: Session) -> None:
    """Most NI PPPK have digits 13-14 above 12: typed as a NIP (on either channel, spaced as
    printed on the SK), each is read, put before the OPD's admin and can be approved."""
    row: dict[str, object] = {"nip": PPPK, "nama": "Pipit", "opd_kode": "DINKES"}
    row |= {"opd_nama": "Dinas Kesehatan", "status": "PPPK"}
    report = import_rows(session, [RawRow(2, row)], today=TODAY)
    assert not report.rejected, report.rejected
    admin(session, "opd", "DINKES", 900)
    for asker in (tg(5), wa("6281300000009")):
        outcome = do(session, asker, Text("19900913 202321 1 014"))
        assert only(outcome).text == NEUTRAL
        assert [n.to.external_id for n in outcome.notices] == ["900"]
        assert f"NIP {PPPK}" in outcome.notices[0].reply.text
    cards = do(session, tg(900), Command("permintaan")).replies[1:]
    approved = only(do(session, tg(900), Pressed(data(cards[0], "Setujui"))))
    assert approved.text == "✅ Disetujui: Pipit"
    pipit = session.exec(select(Asn).where(Asn.nip == PPPK)).one()
    assert (asn_for_account(session, "telegram", "5"), pipit.status) == (pipit, "PPPK")


def test_pages_to_an_opd_are_limited_and_held_requests_wait_in_permintaan(
    session: Session,
) -> None:
    people = [add_asn(session, opd="DINKES", nama=f"ASN {i}") for i in range(3)]
    add_asn(session, opd="DISPORA", nama="Lain")
    admin(session, "opd", "DINKES", 900)
    admin(session, "diskominfo", None, 800)
    other_admin = admin(session, "opd", "DISPORA", 901)
    assert other_admin.id is not None
    two = Settings(admin_pages_per_hour=2)
    pages = [do(session, tg(10 + i), Text(a.nip), settings=two) for i, a in enumerate(people)]
    assert [len(p.notices) for p in pages] == [1, 1, 0]  # the third waits unpaged
    assert [only(p).text for p in pages] == [NEUTRAL] * 3

    listed = do(session, tg(900), Command("permintaan"))
    assert listed.replies[0].text == "3 permintaan pendaftaran menunggu; 3 yang terlama:"
    cards = listed.replies[1:]
    assert [f"ASN {i}" in card.text for i, card in enumerate(cards)] == [True, True, True]
    assert "akun Telegram 12" in cards[2].text
    decided = do(session, tg(900), Pressed(data(cards[2], "Setujui")))
    assert only(decided).text == "✅ Disetujui: ASN 2"
    assert asn_for_account(session, "telegram", "12") == people[2]
    # Diskominfo sees every OPD's; another OPD's admin sees none of these; others are refused.
    assert len(do(session, tg(800), Command("permintaan")).replies) == 3
    nothing = only(do(session, tg(901), Command("permintaan")))
    assert nothing.text == "Tidak ada permintaan pendaftaran yang menunggu."
    assert only(do(session, tg(4242), Command("permintaan"))).text == "Perintah ini khusus admin."


def test_a_flood_of_messages_gets_one_polite_word_then_silence(session: Session) -> None:
    slow = Settings(messages_per_minute=3)
    outcomes = [do(session, tg(5), Text(f"halo {i}"), settings=slow) for i in range(6)]
    assert [len(o.replies) for o in outcomes] == [1, 1, 1, 1, 0, 0]
    assert only(outcomes[3]).text.startswith("Pesan Anda datang terlalu cepat")
    assert "tidak saya pahami" in only(outcomes[2]).text
    # Someone else is not slowed by it; button presses (taps) are never held back.
    assert "tidak saya pahami" in only(do(session, tg(6), Text("halo"), settings=slow)).text
    assert do(session, tg(5), Pressed("g1:1:l"), settings=slow).answer is not None
