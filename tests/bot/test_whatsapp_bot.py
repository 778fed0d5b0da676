"""WhatsApp end to end: a real ``gaung serve --worker`` process and the emulated Cloud API.

Each test runs on SQLite and on PostgreSQL. The test plays Meta's dashboard (it points the
emulator's webhook at the server) and the people (simulated WhatsApp users); it reads only the
database and the emulator.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, update
from sqlmodel import select

from api.demo.serve import spawn_gaung, stop_gaung, wait_answering
from bot.emulators.thread import free_port
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.emulators.whatsapp.records import Sent, User
from bot.whatsapp.webhook import signature
from db.accounts.admins import add_admin
from db.engine import session_scope
from db.models import (
    Asn,
    ChatIdentity,
    Confirmation,
    Delivery,
    DeliveryStatus,
    PostOpdStat,
    ProcessedUpdate,
    RegistrationRequest,
)
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.factories import add_asn, register

APP_SECRET = "rahasia-aplikasi-meta-0123456789abcdef"
VERIFY = "token-verifikasi"


@pytest.fixture
def wa() -> Iterator[WhatsAppEmulator]:
    limits = Limits(rate=1000, pair_rate=50, pair_burst=50, messaging_limit=None)
    with WhatsAppEmulator(limits) as emulator:
        yield emulator


class Serve:
    """``gaung serve --worker`` configured for WhatsApp only, webhook pointed at it."""

    def __init__(self, database_url: str, wa: WhatsAppEmulator, tmp: Path, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "GAUNG_DATABASE_URL": database_url,
            "GAUNG_WHATSAPP_TOKEN": wa.token,
            "GAUNG_WHATSAPP_PHONE_ID": wa.phone_id,
            "GAUNG_WHATSAPP_API_URL": wa.url,
            "GAUNG_WHATSAPP_APP_SECRET": APP_SECRET,
            "GAUNG_WHATSAPP_VERIFY_TOKEN": VERIFY,
            "GAUNG_PUBLIC_URL": self.url,
            "GAUNG_SECRET_KEY": "uji-kunci-rahasia-dasbor-whatsapp-0123456789",
            **{f"GAUNG_{k.upper()}": v for k, v in settings.items()},
        }
        env.pop("GAUNG_TELEGRAM_TOKEN", None)
        self.log_path = tmp / "serve.log"
        args = ["serve", "--worker", "--port", str(self.port)]
        self.process = spawn_gaung(args, env, tmp, self.log_path)
        if not wait_answering(f"{self.url}/healthz", self.process, 60):
            self.stop()
            raise AssertionError("gaung serve did not listen:\n" + self.log())
        wa.world.set_webhook(
            f"{self.url}/webhook/whatsapp", app_secret=APP_SECRET, verify_token=VERIFY
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_gaung(self.process)


@pytest.fixture
def serve(
    request: pytest.FixtureRequest, database_url: str, wa: WhatsAppEmulator, tmp_path: Path
) -> Iterator[Serve]:
    marker = request.node.get_closest_marker("bot_settings")
    server = Serve(database_url, wa, tmp_path, **(marker.kwargs if marker else {}))
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


class Person:
    """One WhatsApp user, acting and waiting for Gaung's answer."""

    def __init__(self, wa: WhatsAppEmulator, name: str, *, wa_id: str | None = None) -> None:
        self.wa = wa
        self.user: User = wa.world.add_user(name, wa_id=wa_id)
        self.wa_id = self.user.wa_id

    def messages(self) -> list[Sent]:
        return self.wa.world.messages(self.wa_id)

    def wait(self, count: int, timeout: float = 15) -> Sent:
        self.wa.wait_for(
            lambda: len(self.messages()) >= count,
            timeout=timeout,
            message=f"{self.user.name} got no message #{count}",
        )
        return self.messages()[count - 1]

    def _expect(self, act: Callable[[], object]) -> Sent:
        before = len(self.messages())
        act()
        return self.wait(before + 1)

    def say(self, text: str) -> Sent:
        return self._expect(lambda: self.wa.world.say(self.wa_id, text))

    def press(self, message: Sent, label: str) -> Sent:
        return self._expect(lambda: self.wa.world.press(self.wa_id, message.id, label))

    def quick_reply(self, message: Sent, label: str) -> Sent:
        return self._expect(lambda: self.wa.world.quick_reply(self.wa_id, message.id, label))


def wait_db(predicate: Callable[[], bool], timeout: float = 15, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message or "database condition not met")
        time.sleep(0.05)


def approve(engine: Engine, url: str = "https://instagram.com/p/wa1") -> int:
    with session_scope(engine) as session:
        post = submit_post(session, opd_kode="DINKES", url=url, caption="Ayo vaksin")
        assert post.id is not None
        approve_post(session, post.id)
        return post.id


def deliveries(engine: Engine, post_id: int) -> list[Delivery]:
    with session_scope(engine, readonly=True) as session:
        rows = session.exec(select(Delivery).where(Delivery.post_id == post_id)).all()
        session.expunge_all()
        return list(rows)


def stat(engine: Engine, post_id: int) -> PostOpdStat | None:
    with session_scope(engine, readonly=True) as session:
        row = session.exec(select(PostOpdStat).where(PostOpdStat.post_id == post_id)).first()
        if row is not None:
            session.expunge(row)
        return row


def roster(engine: Engine, *phones: str | None) -> list[Asn]:
    with session_scope(engine) as session:
        people = [add_asn(session, opd="DINKES", phone=p) for p in phones]
        for person in people:
            session.refresh(person)
        session.expunge_all()
        return people


def linked(engine: Engine, asn: Asn, person: Person, *, inbound_hours_ago: float | None) -> None:
    """An ASN registered on WhatsApp earlier, last wrote ``inbound_hours_ago`` (None: never)."""
    with session_scope(engine) as session:
        row = session.get(Asn, asn.id)
        assert row is not None
        identity = register(session, row, channel="whatsapp", external_id=person.wa_id)
        identity.last_inbound_at = (
            None if inbound_hours_ago is None else utcnow() - timedelta(hours=inbound_hours_ago)
        )
        session.add(identity)


# --- tests -----------------------------------------------------------------------------------


def test_handshake_and_unsigned_or_forged_events_are_refused(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    ok = httpx.get(
        f"{serve.url}/webhook/whatsapp",
        params={"hub.mode": "subscribe", "hub.challenge": "8812", "hub.verify_token": VERIFY},
    )
    assert ok.status_code == 200 and ok.text == "8812"
    bad = httpx.get(
        f"{serve.url}/webhook/whatsapp",
        params={"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "salah"},
    )
    assert bad.status_code == 403

    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {"phone_number_id": wa.phone_id},
                                "contacts": [{"wa_id": "6281", "user_id": "ID.1"}],
                                "messages": [
                                    {
                                        "from": "6281",
                                        "id": "wamid.forged",
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": "status"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    url = f"{serve.url}/webhook/whatsapp"
    unsigned = httpx.post(url, content=body)
    forged = httpx.post(url, content=body, headers={"X-Hub-Signature-256": signature("x", body)})
    assert unsigned.status_code == 403 and forged.status_code == 403
    with session_scope(engine, readonly=True) as session:
        assert session.exec(select(ProcessedUpdate)).all() == []
    garbage = b"not json"
    refused = httpx.post(
        url, content=garbage, headers={"X-Hub-Signature-256": signature(APP_SECRET, garbage)}
    )
    assert refused.status_code == 400 and "detail" in refused.json()


def test_registration_by_agreeing_keywords_and_nip_path(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    sari, budi = roster(engine, "081234500101", "081234500102")
    person = Person(wa, "Sari", wa_id="6281234500101")

    consent = person.say("halo")
    assert "UU PDP" in consent.text() and "WhatsApp" in consent.text()
    [agree] = consent.buttons()
    assert "Setuju" in agree["title"] and len(agree["title"]) <= 20
    done = person.press(consent, "Setuju")
    assert "Terdaftar" in done.text() and sari.nama in done.text()
    with session_scope(engine, readonly=True) as session:
        identity = session.exec(
            select(ChatIdentity).where(ChatIdentity.external_id == "6281234500101")
        ).one()
        assert identity.asn_id == sari.id and identity.channel == "whatsapp"
        assert identity.last_inbound_at is not None

    status = person.say("status")
    assert sari.nama in status.text() and "*" in status.text()  # <b> became WhatsApp's *bold*
    assert "Gaung" in person.say("bantuan").text()

    # A number not in the roster is told what to do; the NIP path goes to the OPD admin.
    admin = Person(wa, "Admin Dinkes", wa_id="6281299900001")
    with session_scope(engine) as session:
        add_admin(session, role="opd", opd_kode="DINKES", phone="+6281299900001", name="Admin")
    # Free-form notices reach an admin only inside their 24-hour window (Meta's rule).
    assert "laporan" in admin.say("bantuan").text()
    stranger = Person(wa, "Budi HP baru", wa_id="6281277700002")
    told = stranger.say("selamat pagi")
    assert "tidak ada di daftar ASN" in told.text() and "NIP" in told.text()
    requested = stranger.say(budi.nip)
    assert "admin OPD" in requested.text()
    ask = admin.wait(2)
    assert budi.nama in ask.text() and any("Setujui" in b["title"] for b in ask.buttons())
    approved = admin.press(ask, "Setujui")
    assert budi.nama in approved.text()
    assert "menyetujui" in stranger.wait(3).text()
    with session_scope(engine, readonly=True) as session:
        request = session.exec(select(RegistrationRequest)).one()
        assert request.status == "approved"
        identity = session.exec(
            select(ChatIdentity).where(ChatIdentity.external_id == "6281277700002")
        ).one()
        assert identity.asn_id == budi.id

    # She adopts a username: webhooks now carry no wa_id, only her user_id. Still her.
    wa.world.update_user(person.wa_id, hide_phone=True, username="sari_dinkes")
    hidden = person.say("status")
    assert sari.nama in hidden.text()

    stopped = person.say("berhenti")
    assert "tidak akan menerima" in stopped.text()


def test_broadcast_in_and_out_of_window_taps_double_taps_and_async_failures(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    inside, outside, stale, ghost = roster(
        engine, "081234500201", "081234500202", "081234500203", "081234500204"
    )
    p_in = Person(wa, "Di jendela", wa_id="6281234500201")
    p_out = Person(wa, "Di luar", wa_id="6281234500202")
    p_stale = Person(wa, "Jendela basi", wa_id="6281234500203")
    linked(engine, outside, p_out, inbound_hours_ago=None)
    # Gaung believes this one wrote an hour ago; WhatsApp's window is closed: 131047 later.
    linked(engine, stale, p_stale, inbound_hours_ago=1)
    with session_scope(engine) as session:  # a number that is not on WhatsApp: 131026 later
        row = session.get(Asn, ghost.id)
        assert row is not None
        register(session, row, channel="whatsapp", external_id="6289999999999")
    consent = p_in.say("halo")
    p_in.press(consent, "Setuju")

    post_id = approve(engine)
    got_in = p_in.wait(3)
    assert got_in.type == "interactive"
    assert "https://instagram.com/p/wa1" in got_in.text()
    titles = [b["title"] for b in got_in.buttons()]
    assert any("Like" in t for t in titles) and any("Share" in t for t in titles)
    got_out = p_out.wait(1)
    assert got_out.type == "template"
    assert any("Like" in b["text"] for b in got_out.buttons())

    def settled() -> bool:
        rows = deliveries(engine, post_id)
        return len(rows) == 4 and all(
            r.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED) for r in rows
        )

    wait_db(settled, message="broadcast did not settle")
    wait_db(
        lambda: sum(r.status == DeliveryStatus.FAILED for r in deliveries(engine, post_id)) == 2,
        message="async failures not recorded",
    )
    by_asn = {r.asn_id: r for r in deliveries(engine, post_id)}
    assert by_asn[inside.id].status == DeliveryStatus.SENT
    assert by_asn[outside.id].status == DeliveryStatus.SENT
    assert "131047" in (by_asn[stale.id].error or "")
    assert "131026" in (by_asn[ghost.id].error or "")
    wait_db(lambda: (stat(engine, post_id) or PostOpdStat()).delivered == 2, message="delivered")
    wait_db(lambda: by_asn_billable(engine, post_id, outside.id), message="pricing not recorded")

    # Taps: a reply button, a template quick reply, then the same tap again.
    ack = p_in.press(got_in, "Like")
    assert "like" in ack.text().lower()
    again = p_in.press(got_in, "Like")
    assert "sudah" in again.text().lower()
    quick = p_out.quick_reply(got_out, "Share")
    assert "share" in quick.text().lower()
    with session_scope(engine, readonly=True) as session:
        kinds = sorted((c.delivery_id, c.kind) for c in session.exec(select(Confirmation)).all())
    assert kinds == sorted([(by_asn[inside.id].id, "like"), (by_asn[outside.id].id, "share")])
    wait_db(lambda: (stat(engine, post_id) or PostOpdStat()).participated == 2)
    # The quick reply renewed the person's window: the next post goes inside it.
    with session_scope(engine, readonly=True) as session:
        identity = session.exec(
            select(ChatIdentity).where(ChatIdentity.external_id == p_out.wa_id)
        ).one()
        assert identity.last_inbound_at is not None


def by_asn_billable(engine: Engine, post_id: int, asn_id: int | None) -> bool:
    row = next(r for r in deliveries(engine, post_id) if r.asn_id == asn_id)
    return row.billable is True and row.pricing_category == "marketing"


def test_duplicate_statuses_and_messages_change_nothing(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    wa.world.set_limits(duplicate_rate=1.0)
    _sari, ghost = roster(engine, "081234500301", "081234500302")
    person = Person(wa, "Sari", wa_id="6281234500301")
    consent = person.say("halo")
    person.press(consent, "Setuju")
    with session_scope(engine) as session:
        row = session.get(Asn, ghost.id)
        assert row is not None
        register(session, row, channel="whatsapp", external_id="6289999999998")
    post_id = approve(engine)
    got = person.wait(3)
    wait_db(
        lambda: any(r.status == DeliveryStatus.FAILED for r in deliveries(engine, post_id)),
        message="failure not recorded",
    )
    wa.wait_for(lambda: wa.emulator.pending_webhooks() == 0, timeout=15)
    time.sleep(0.5)
    assert (stat(engine, post_id) or PostOpdStat()).delivered == 1
    person.press(got, "Share")
    wa.wait_for(lambda: wa.emulator.pending_webhooks() == 0, timeout=15)
    time.sleep(0.5)
    # Every webhook came twice; each message was answered once.
    assert len(person.messages()) == 4
    with session_scope(engine, readonly=True) as session:
        assert len(session.exec(select(Confirmation)).all()) == 1
    assert (stat(engine, post_id) or PostOpdStat()).shared == 1


@pytest.mark.bot_settings(whatsapp_daily_limit="2")
def test_tier_cap_smaller_than_the_audience_waits_for_the_next_window(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    people = [Person(wa, f"ASN {n}", wa_id=f"62812345004{n:02d}") for n in range(4)]
    asns = roster(engine, *(f"0812345004{n:02d}" for n in range(4)))
    for asn, person in zip(asns, people, strict=True):
        linked(engine, asn, person, inbound_hours_ago=None)
    post_id = approve(engine)
    wait_db(
        lambda: sum(r.status == DeliveryStatus.SENT for r in deliveries(engine, post_id)) == 2,
        message="the tier's two were not sent",
    )
    time.sleep(1.0)
    rows = deliveries(engine, post_id)
    waiting = [r for r in rows if r.status == DeliveryStatus.PENDING]
    assert len(waiting) == 2 and sum(r.status == DeliveryStatus.SENT for r in rows) == 2
    soonest = min(r.next_attempt_at for r in waiting if r.next_attempt_at)
    assert soonest > utcnow() + timedelta(hours=23)
    assert all("batas harian" in (r.error or "") for r in waiting)
    assert sum(len(p.messages()) for p in people) == 2

    # A day passes (moved in the database; the emulator enforces no tier here): the rest go,
    # two more, which is all the next window holds.
    with session_scope(engine) as session:
        session.connection().execute(
            update(Delivery.__table__)  # type: ignore[arg-type]
            .where(Delivery.post_id == post_id)
            .values(template_at=utcnow() - timedelta(hours=25))
        )
        session.connection().execute(
            update(Delivery.__table__)  # type: ignore[arg-type]
            .where(Delivery.post_id == post_id, Delivery.status == DeliveryStatus.PENDING)
            .values(next_attempt_at=utcnow())
        )
    wait_db(
        lambda: all(r.status == DeliveryStatus.SENT for r in deliveries(engine, post_id)),
        message="the rest did not go the next day",
    )
    assert all(len(p.messages()) == 1 for p in people)


def test_throughput_and_pair_limits_are_waited_out(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    wa.world.set_limits(rate=5, burst=5, pair_rate=0.5, pair_burst=1)
    count = 12
    people = [Person(wa, f"ASN {n}", wa_id=f"62812345005{n:02d}") for n in range(count)]
    asns = roster(engine, *(f"0812345005{n:02d}" for n in range(count)))
    for asn, person in zip(asns, people, strict=True):
        linked(engine, asn, person, inbound_hours_ago=None)
    post_id = approve(engine)
    wait_db(
        lambda: all(r.status == DeliveryStatus.SENT for r in deliveries(engine, post_id)),
        timeout=30,
        message="throughput errors were not waited out",
    )
    assert all(len(p.messages()) == 1 for p in people)
    # Two quick messages from one person: the second reply meets the pair limit and waits.
    sari = people[0]
    before = len(sari.messages())
    wa.world.say(sari.wa_id, "status")
    wa.world.say(sari.wa_id, "bantuan")
    sari.wait(before + 2, timeout=20)
    codes = wa.world.stats()["calls"]
    assert "130429" in codes or "131056" in codes, codes


def test_asn_on_both_channels_gets_each_post_once_on_the_preferred_channel(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    both, own_choice = roster(engine, "081234500601", "081234500602")
    p_both = Person(wa, "Dua kanal", wa_id="6281234500601")
    p_own = Person(wa, "Pilih sendiri", wa_id="6281234500602")
    for asn, person in ((both, p_both), (own_choice, p_own)):
        linked(engine, asn, person, inbound_hours_ago=1)
        wa.world.say(person.wa_id, "status")  # opens WhatsApp's window in the emulator too
        with session_scope(engine) as session:
            row = session.get(Asn, asn.id)
            assert row is not None
            register(session, row, channel="telegram")
    with session_scope(engine) as session:
        row = session.get(Asn, own_choice.id)
        assert row is not None
        row.preferred_channel = "whatsapp"
        session.add(row)
    p_both.wait(1)
    p_own.wait(1)
    post_id = approve(engine)
    rows = deliveries(engine, post_id)
    assert len(rows) == 2  # one per ASN, never one per channel
    by_asn = {r.asn_id: r.channel for r in rows}
    assert by_asn == {both.id: "telegram", own_choice.id: "whatsapp"}
    p_own.wait(2)
    with session_scope(engine) as session:
        post = submit_post(
            session, opd_kode="DINKES", url="https://instagram.com/p/wa2", caption=None
        )
        assert post.id is not None
        approve_post(session, post.id, preferred_channel="whatsapp")
        second = post.id
    assert {r.channel for r in deliveries(engine, second)} == {"whatsapp"}
    p_both.wait(2)
    assert len(deliveries(engine, second)) == 2


def test_admins_submit_and_approve_on_whatsapp_seeing_the_cost(
    engine: Engine, wa: WhatsAppEmulator, serve: Serve
) -> None:
    (closed,) = roster(engine, "081234500701")
    reader = Person(wa, "Di luar jendela", wa_id="6281234500701")
    linked(engine, closed, reader, inbound_hours_ago=None)
    opd_admin = Person(wa, "Admin OPD", wa_id="6281299900701")
    kominfo = Person(wa, "Diskominfo", wa_id="6281299900702")
    with session_scope(engine) as session:
        add_admin(session, role="opd", opd_kode="DINKES", phone="+6281299900701", name="OPD")
        add_admin(session, role="diskominfo", phone="+6281299900702", name="Kominfo")
    opd_admin.say("bantuan")  # both wrote today: free-form messages reach them
    kominfo.say("bantuan")

    ask = opd_admin.say("https://instagram.com/p/wa-admin")
    preview = opd_admin.press(ask, "Lewati")
    assert "https://instagram.com/p/wa-admin" in preview.text()
    opd_admin.press(preview, "Ajukan")
    review = kominfo.wait(2)
    assert "https://instagram.com/p/wa-admin" in review.text()
    assert "1 pesan templat" in review.text() and "USD 0.04" in review.text()
    assert all(len(b["title"]) <= 20 for b in review.buttons())
    tick = kominfo.press(review, "semua")
    assert "Konfirmasi netralitas" in tick.text()
    assert [b["title"] for b in tick.buttons()] == ["✅ Ya, netral", "Kembali"]
    kominfo.press(tick, "Ya, netral")
    got = reader.wait(1)
    assert got.type == "template"
    assert "disetujui" in opd_admin.wait(5).text().lower()
