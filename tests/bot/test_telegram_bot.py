"""Every chat flow end to end: real `gaung bot` / `gaung serve` processes, emulated Telegram.

Each test runs four times: long polling and webhook, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import time

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from bot.emulators.telegram import TelegramEmulator
from db.accounts.admins import add_admin
from db.engine import session_scope
from db.models import Asn, ChatIdentity, Confirmation, Delivery, RegistrationRequest
from db.posts.lifecycle import approve_post, submit_post
from tests.bot.conftest import SECRET, BotProcess, Chat
from tests.factories import add_asn


def roster(engine: Engine, *phones: str | None, opd: str = "DINKES") -> list[Asn]:
    with session_scope(engine) as session:
        people = [add_asn(session, opd=opd, phone=p) for p in phones]
        for person in people:
            session.refresh(person)
        session.expunge_all()
        return people


def make_admin(engine: Engine, chat: Chat, role: str, opd: str | None = None) -> None:
    with session_scope(engine) as session:
        add_admin(session, role=role, opd_kode=opd, telegram_id=chat.id, name=chat.user.first_name)


def identity_of(engine: Engine, chat: Chat) -> ChatIdentity | None:
    with session_scope(engine, readonly=True) as session:
        return session.exec(
            select(ChatIdentity).where(ChatIdentity.external_id == str(chat.id))
        ).first()


def test_registration_by_own_contact_and_every_refusal(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    sari, inactive, taken = roster(engine, "081234500001", "081234500002", "081234500003")
    with session_scope(engine) as session:
        row = session.get(Asn, inactive.id)
        assert row is not None
        row.active = False

    person = Chat(tg, "Sari", phone="6281234500001")
    greeting = person.say("/start")
    assert "Selamat datang" in greeting.text and "UU PDP" in greeting.text
    assert "/hapus" in greeting.text
    [button] = greeting.buttons()
    assert button["request_contact"] is True and "nomor" in button["text"]

    other = Chat(tg, "Budi", phone="6281234500003")
    refused = other.share_contact(contact_user_id=person.id, phone="6281234500001")
    assert "kontak orang lain" in refused.text
    not_a_user = other.share_contact(contact_user_id=None, phone="6281234500003")
    assert "kontak orang lain" in not_a_user.text

    done = person.share_contact(plus=True)
    assert "Terdaftar" in done.text and sari.nama in done.text and "OPD DINKES" in done.text
    identity = identity_of(engine, person)
    assert identity is not None and identity.asn_id == sari.id

    stranger = Chat(tg, "Tono", phone="6281299999999")
    unknown = stranger.share_contact()
    assert "tidak ada di daftar ASN" in unknown.text and "NIP" in unknown.text

    retired = Chat(tg, "Lama", phone="6281234500002")
    assert "tidak aktif" in retired.share_contact().text

    impostor = Chat(tg, "Akun Kedua", phone="6281234500001")
    second = impostor.share_contact()
    assert "akun Telegram lain" in second.text

    again = person.say("/start")
    assert "sudah terdaftar" in again.text
    for chat in (other, stranger, retired, impostor):
        assert identity_of(engine, chat) is None
    assert taken.id is not None


def test_registration_by_nip_goes_to_the_opd_admin(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    dewi, eko = roster(engine, None, None)
    admin = Chat(tg, "Admin Dinkes")
    make_admin(engine, admin, "opd", "DINKES")
    admin.say("/start")

    asker = Chat(tg, "Dewi")
    spaced = f"{dewi.nip[:8]} {dewi.nip[8:14]} {dewi.nip[14]} {dewi.nip[15:]}"
    sent = asker.say(spaced)
    assert (
        sent.text.startswith("Terima kasih. Bila NIP itu tercatat") and dewi.nama not in sent.text
    )
    request = admin.wait_message(2)
    assert dewi.nama in request.text and dewi.nip in request.text
    assert "Dewi" in request.text
    again = asker.say(dewi.nip)
    assert again.text == sent.text
    with session_scope(engine, readonly=True) as session:
        assert len(session.exec(select(RegistrationRequest)).all()) == 1
    assert len(admin.messages()) == 2  # no second notice for the repeat

    toast = admin.press(request, "Setujui")
    assert toast is not None
    approved = asker.wait_message(3)
    assert "menyetujui" in approved.text and dewi.nama in approved.text
    tg.wait_for(lambda: "Disetujui" in admin.messages()[1].text)
    identity = identity_of(engine, asker)
    assert identity is not None and identity.asn_id == dewi.id

    other = Chat(tg, "Eko")
    other.say(eko.nip)
    rejected_request = admin.wait_message(3)
    admin.press(rejected_request, "Tolak")
    assert "tidak menyetujui" in other.wait_message(2).text
    assert identity_of(engine, other) is None

    wrong = Chat(tg, "Salah")
    assert wrong.say("199999999999999999").text.startswith("Data tidak valid:")
    # A NIP that is not in the roster gets the very words an existing one got.
    assert wrong.say("198501012010011999").text == sent.text


def test_submission_review_broadcast_and_taps(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    sari, budi = roster(engine, "081234500011", "081234500012")
    ani = Chat(tg, "Sari", phone="6281234500011")
    ani.share_contact()
    bo = Chat(tg, "Budi", phone="6281234500012")
    bo.share_contact()
    opd_admin = Chat(tg, "Admin Dinkes")
    make_admin(engine, opd_admin, "opd", "DINKES")
    kominfo = Chat(tg, "Staf Diskominfo")
    make_admin(engine, kominfo, "diskominfo")
    kominfo.say("/start")

    outsider = Chat(tg, "Bukan Admin")
    assert "Hanya admin OPD" in outsider.say("https://www.instagram.com/p/xyz/").text
    assert "ditolak" in opd_admin.say("ftp://example.com/berkas").text.lower()

    ask = opd_admin.say("https://www.instagram.com/p/Cgaung1/")
    assert "Instagram" in ask.text and "Lewati" in [b["text"] for b in ask.buttons()]
    too_long = opd_admin.say("x" * 1500)
    assert "terlalu panjang" in too_long.text
    preview = opd_admin.say("Posyandu serentak di 18 kecamatan")
    assert "Pratinjau" in preview.text and "Posyandu serentak" in preview.text
    opd_admin.press(preview, "Ajukan")
    tg.wait_for(lambda: "diajukan" in opd_admin.messages()[-1].text)

    review = kominfo.wait_message(2)
    assert "Posyandu serentak" in review.text and "instagram.com/p/Cgaung1" in review.text
    kominfo.press(review, "semua OPD")
    # The neutrality tick, on the review message itself, before anything is queued.
    tg.wait_for(lambda: "Konfirmasi netralitas" in kominfo.messages()[-1].text)
    tick = kominfo.messages()[-1]
    assert [b["text"] for b in tick.buttons()] == ["✅ Ya, netral", "Kembali"]
    kominfo.press(tick, "Ya, netral")
    tg.wait_for(lambda: "disetujui" in kominfo.messages()[-1].text.lower())
    told = opd_admin.wait_message(len(opd_admin.messages()) + 1)
    assert "disetujui Diskominfo" in told.text

    post_a = ani.wait_message(2, timeout=20)
    post_b = bo.wait_message(2, timeout=20)
    for post in (post_a, post_b):
        assert "instagram.com/p/Cgaung1" in post.text and "Posyandu serentak" in post.text
    assert ani.press(post_a, "Like") == {
        "text": "Terima kasih! Like tercatat.",
        "show_alert": False,
    }
    tg.wait_for(lambda: "✅ Sudah Like" in [b["text"] for b in ani.messages()[1].buttons()])
    assert "Sudah tercatat" in (ani.press(ani.messages()[1], "Like") or {})["text"]
    ani.press(ani.messages()[1], "Share")

    # Someone else's button data, malformed data: refused, nothing recorded.
    with session_scope(engine, readonly=True) as session:
        bo_delivery = session.exec(select(Delivery).where(Delivery.asn_id == budi.id)).one()
    forged = ani.press_data(post_a, f"g1:{bo_delivery.id}:l", forged=True)
    assert forged is not None and "tidak berlaku" in forged["text"]
    junk = ani.press_data(post_a, "g1:abc:zz", forged=True)
    assert junk is not None and "tidak berlaku" in junk["text"]
    with session_scope(engine, readonly=True) as session:
        kinds = sorted(
            (c.delivery_id == bo_delivery.id, c.kind) for c in session.exec(select(Confirmation))
        )
    assert kinds == [(False, "like"), (False, "share")]

    status = ani.say("/status")
    assert sari.nama in status.text and "1 unggahan diterima, 1 like dan 1 share" in status.text
    report = kominfo.say("/laporan")
    assert "Partisipasi" in report.text and "Terdaftar: 2/2" in report.text
    assert "Perintah ini khusus admin" in bo.say("/laporan").text

    second = opd_admin.say("https://www.tiktok.com/@dinkes/video/1")
    skip_preview = opd_admin.press(second, "Lewati")
    assert skip_preview is not None
    tg.wait_for(lambda: "Pratinjau" in opd_admin.messages()[-1].text)
    opd_admin.press(opd_admin.messages()[-1], "Ajukan")
    review2 = kominfo.wait_message(len(kominfo.messages()) + 1)
    kominfo.press(review2, "Tolak")
    tg.wait_for(lambda: "alasan" in kominfo.messages()[-1].text.lower())
    kominfo.say("Bukan konten positif")
    tg.wait_for(lambda: "Bukan konten positif" in opd_admin.messages()[-1].text)
    assert "ditolak" in opd_admin.messages()[-1].text
    assert len(bo.messages()) == 3  # registration, the first post, the /laporan refusal


def test_stop_resume_erase_block_and_fallbacks(
    engine: Engine, tg: TelegramEmulator, running_bot: BotProcess
) -> None:
    [asn] = roster(engine, "081234500021")
    person = Chat(tg, "Rina", phone="6281234500021")
    person.share_contact()
    assert "tidak saya pahami" in person.say("halo, apa kabar?").text
    assert "/berhenti" in person.say("/bantuan").text
    assert "tidak akan menerima" in person.say("/berhenti").text
    with session_scope(engine, readonly=True) as session:
        row = session.get(Asn, asn.id)
        assert row is not None and row.opted_out_at is not None
    assert "kembali" in person.say("/start").text
    with session_scope(engine, readonly=True) as session:
        row = session.get(Asn, asn.id)
        assert row is not None and row.opted_out_at is None

    tg.world.block(person.id)
    tg.wait_for(lambda: not (identity_of(engine, person) or ChatIdentity()).reachable)
    tg.world.unblock(person.id)
    tg.wait_for(lambda: bool((identity_of(engine, person) or ChatIdentity()).reachable))

    confirm = person.say("/hapus")
    assert "Hapus data Anda" in confirm.text
    person.press(confirm, "Batal")
    tg.wait_for(lambda: "tidak dihapus" in person.messages()[-1].text)
    confirm = person.say("/hapus")
    person.press(confirm, "Ya, hapus")
    tg.wait_for(lambda: "sudah dihapus" in person.messages()[-1].text)
    assert identity_of(engine, person) is None
    with session_scope(engine, readonly=True) as session:
        row = session.get(Asn, asn.id)
        # The HR record keeps the phone, so the bot's promise holds: register again by contact.
        assert row is not None and row.phone == "+6281234500021" and row.erased_at is not None
    assert "belum terdaftar" in person.say("/status").text
    assert "Terdaftar" in person.share_contact().text


def test_webhook_checks_the_secret_and_handles_a_redelivery_once(
    engine: Engine, tg: TelegramEmulator, webhook_bot: BotProcess
) -> None:
    url = f"http://127.0.0.1:{webhook_bot.port}/webhook/telegram"
    update = {"update_id": 999_999, "message": {"message_id": 1}}
    assert httpx.post(url, json=update).status_code == 403
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "salah"}
    assert httpx.post(url, json=update, headers=wrong).status_code == 403
    assert tg.bot.webhook.secret == SECRET
    assert tg.bot.webhook.max_connections == 100  # the most Telegram allows: taps come in bursts
    assert [c["command"] for c in tg.bot.commands][:2] == ["start", "status"]

    [asn] = roster(engine, "081234500031")
    person = Chat(tg, "Wati", phone="6281234500031")
    tg.bot.webhook.duplicates = 1
    person.share_contact()
    tg.wait_for(lambda: tg.bot.webhook.duplicates == 0)
    tg.wait_for(lambda: not tg.bot.updates)
    assert len(person.messages()) == 1  # answered once though delivered twice
    identity = identity_of(engine, person)
    assert identity is not None and identity.asn_id == asn.id


def test_a_webhook_tap_is_recorded_before_its_answer_and_its_buttons_follow(
    engine: Engine, tg: TelegramEmulator, webhook_bot: BotProcess
) -> None:
    roster(engine, "081234500041")
    person = Chat(tg, "Tari", phone="6281234500041")
    person.share_contact()
    with session_scope(engine) as session:
        post = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/Cwh/")
        approve_post(session, post.id or 0)
    message = person.wait_message(2, timeout=20)
    like, share = (b["callback_data"] for b in message.buttons()[:2])

    def tap(update_id: int, data: str) -> httpx.Response:
        """As Telegram would deliver the press: we are the sender here, to read the answer."""
        sender = {"id": person.id, "is_bot": False, "first_name": "Tari"}
        chat = {"id": person.id, "type": "private"}
        query = {
            "id": f"q{update_id}",
            "from": sender,
            "message": {"message_id": message.message_id, "date": 0, "chat": chat},
            "chat_instance": "1",
            "data": data,
        }
        return httpx.post(
            f"http://127.0.0.1:{webhook_bot.port}/webhook/telegram",
            json={"update_id": update_id, "callback_query": query},
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )

    def confirmed() -> list[str]:
        with session_scope(engine, readonly=True) as session:
            return sorted(c.kind for c in session.exec(select(Confirmation)))

    answer = tap(5_000_001, like)
    # Answered in the webhook's own response (Telegram runs it), and already on record.
    assert answer.status_code == 200 and answer.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": "q5000001",
        "text": "Terima kasih! Like tercatat.",
        "show_alert": False,
    }
    assert confirmed() == ["like"]
    again = tap(5_000_001, like)  # Telegram's redelivery: acknowledged, nothing more
    assert again.status_code == 200 and again.content == b""
    tg.wait_for(lambda: "✅ Sudah Like" in [b["text"] for b in person.messages()[1].buttons()])

    answers = [tap(5_000_010 + n, share).json()["text"] for n in range(5)]
    assert answers[0].startswith("Terima kasih! Share tercatat. Bila mau, kirim tautan repost")
    assert answers[1:] == ["Sudah tercatat sebelumnya."] * 4
    assert confirmed() == ["like", "share"]
    tg.wait_for(lambda: "✅ Sudah Share" in [b["text"] for b in person.messages()[1].buttons()])
    time.sleep(1.5)  # the redrawer looks again each second: repeats must not draw again
    assert person.messages()[1].edits == 2
