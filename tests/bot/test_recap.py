"""The daily recap: once a day across racing workers, at the time, never in quiet hours, caught up
on start-up the same day; what it says to Diskominfo and to each OPD (counts, never names); the
gentle nudge to a silent OPD at most once per period; and the chat networks it reaches."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.channels.registry import build_registry
from bot.conversation.notifier import Notifier
from bot.conversation.replies import Reply
from bot.emulators.telegram.runner import TelegramEmulator
from bot.emulators.whatsapp import Limits, WhatsAppEmulator
from bot.recap import MAX_CHARS, Recapper, diskominfo_text
from bot.texts import as_whatsapp
from db.accounts.admins import add_admin
from db.delivery.confirmations import confirm
from db.delivery.outbox import mark_sent
from db.engine import make_engine
from db.models import Asn, Post, RecapRun, SilenceNudge
from db.posts.lifecycle import approve_post, submit_post
from db.reporting.recap import build_recap
from db.roster.opd import ensure_opd, opd_by_kode
from db.settings import Settings
from tests.factories import add_asn, delivery_of, register

WIB = ZoneInfo("Asia/Jakarta")
# Tuesday 1 December 2026, 16:00 WIB: the recap's default time.
NOW = datetime(2026, 12, 1, 16, 0, tzinfo=WIB).astimezone(UTC)
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
_links = itertools.count(1)
REGISTERED = ("a1", "a2", "a3", "b1", "b2", "c1")  # a4 is on the roster, never registered


class Recorder:
    """An outbound that keeps what it was given: the network edge, nothing else faked."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        self.sent.append((chat_id, str(reply.text)))

    def to(self, chat_id: str) -> list[str]:
        return [text for who, text in self.sent if who == chat_id]


@dataclass
class World:
    people: dict[str, Asn]
    telegram: Recorder
    whatsapp: Recorder
    notifier: Notifier


def _post(
    session: Session,
    opd: str,
    submitted: datetime,
    approved: datetime | None = None,
    *,
    targets: list[str] | None = None,
) -> int:
    url = f"https://www.instagram.com/p/rekap{next(_links)}/"  # what it links to is no matter
    post = submit_post(session, opd_kode=opd, url=url)
    post.submitted_at = submitted
    session.add(post)
    session.flush()
    assert post.id is not None
    if approved is not None:
        approve_post(session, post.id, targets=targets, now=approved)
    return post.id


def _deliver(
    session: Session,
    post_id: int,
    people: dict[str, Asn],
    sent_to: tuple[str, ...],
    marks: dict[str, str] | None = None,
) -> None:
    """The post reaches ``sent_to``; those in ``marks`` tap Like or Share."""
    for name in sent_to:
        mark_sent(session, delivery_of(session, post_id, people[name]), "m")
    for name, kind in (marks or {}).items():
        confirm(session, delivery_of(session, post_id, people[name]), kind)


def seed(engine: Engine, session: Session) -> World:
    """OPD A (4 ASN, one unregistered), B (2), C (1, never submits, no admin), D (no ASN, last
    submitted 20 days ago, an admin on Telegram). Diskominfo's admin is on Telegram, A's on
    WhatsApp, B's and D's on Telegram.

    Last week (10 days ago, B's post to all): a1, b1, b2 took part → A 1/3, B 2/2, C 0/1.
    This week: 3 days ago A's post to A only, nobody took part (A 0/3); today A's post to all:
    a1, a2 and b1 took part → today A 2/3, B 1/2, C 0/1; week A 2/6, B 1/2, C 0/1.
    """
    ensure_opd(session, "D", "Dinas Diam")
    p = {
        n: add_asn(session, opd=n[0].upper(), nama=f"Nama Rahasia {n}")
        for n in ("a1", "a2", "a3", "a4", "b1", "b2", "c1")
    }
    for n in REGISTERED:
        register(session, p[n])
    add_admin(session, role="diskominfo", telegram_id=100, actor="uji")
    add_admin(session, role="opd", opd_kode="A", phone="+6281200000001", actor="uji")
    add_admin(session, role="opd", opd_kode="B", telegram_id=200, actor="uji")
    add_admin(session, role="opd", opd_kode="D", telegram_id=400, actor="uji")
    session.commit()

    _post(session, "D", NOW - 20 * DAY)  # never approved
    last_week = _post(session, "B", NOW - 10 * DAY, NOW - 10 * DAY)
    _deliver(session, last_week, p, REGISTERED, {"a1": "like", "b1": "like", "b2": "like"})
    a_only = _post(session, "A", NOW - 3 * DAY, NOW - 3 * DAY, targets=["A"])
    _deliver(session, a_only, p, ("a1", "a2", "a3"))
    today = _post(session, "A", NOW - 8 * HOUR, NOW - 7 * HOUR)
    _deliver(session, today, p, REGISTERED, {"a1": "like", "a2": "share", "b1": "like"})
    session.commit()
    telegram, whatsapp = Recorder(), Recorder()
    return World(
        p, telegram, whatsapp, Notifier(engine, {"telegram": telegram, "whatsapp": whatsapp})
    )


@pytest.fixture
def world(engine: Engine, session: Session) -> World:
    return seed(engine, session)


def headline(world: World) -> str:
    """The first line of Diskominfo's first recap: the day and time it was made."""
    return world.telegram.to("100")[0].splitlines()[0]


def recapper(
    engine: Engine, database_url: str, world: World, *, worker: str = "w1", **settings: object
) -> Recapper:
    settings.setdefault("recap_enabled", True)  # the test session turns it off (conftest)
    cfg = Settings(database_url=database_url, **settings)  # type: ignore[arg-type]
    return Recapper(engine, cfg, world.notifier, worker=worker)


def test_the_recap_says_the_right_numbers_to_each_reader(
    engine: Engine, database_url: str, world: World
) -> None:
    sent = asyncio.run(recapper(engine, database_url, world).run_once(NOW))

    [diskominfo] = world.telegram.to("100")
    assert diskominfo.splitlines() == [
        "📊 <b>Rekap harian Gaung</b>, Selasa, 1 Desember 2026, pukul 16:00 WIB",
        "",
        "<b>Hari ini</b> (3 OPD menerima kiriman):",
        "1. A 67%",
        "2. B 50%",
        "3. C 0%",
        "Semua OPD: 50% dari 6 kiriman",
        "",
        "<b>7 hari terakhir</b> (3 OPD; perubahan dari 7 hari sebelumnya):",
        "1. B 50% (-50,0 poin)",
        "2. A 33% (+0,0 poin)",
        "3. C 0% (+0,0 poin)",
        "Semua OPD: 33% dari 9 kiriman (-16,7 poin)",
        "",
        "<b>Tanpa unggahan ≥14 hari</b> (2): C, D",
        "",
        "Partisipasi = kiriman yang ditandai Like/Share (dikonfirmasi sendiri) dibagi kiriman "
        "yang diterima. Peringkat per OPD, bukan per orang; tabel lengkap di dasbor.",
    ]
    [a_recap] = world.whatsapp.to("6281200000001")
    assert a_recap.splitlines()[2:5] == [
        "Hari ini: partisipasi 67%, peringkat 1 dari 3 OPD.",
        "7 hari terakhir: partisipasi 33% (+0,0 poin dari 7 hari sebelumnya), peringkat 2 dari "
        "3 OPD.",
        "1 dari 3 ASN yang menerima kiriman 7 hari terakhir belum menandai Like atau Share; "
        "1 dari 4 ASN di roster belum terdaftar.",
    ]
    [b_recap] = world.telegram.to("200")
    assert "peringkat 2 dari 3 OPD" in b_recap and "(-50,0 poin dari 7 hari sebelumnya)" in b_recap
    assert "1 dari 2 ASN yang menerima kiriman" in b_recap
    # D has no ASN: its admin hears its (empty) standing and, being silent 20 days, a nudge.
    d_recap, nudge = world.telegram.to("400")
    assert "belum ada kiriman yang diterima ASN D" in d_recap
    assert nudge.startswith("👋 Sudah 20 hari Dinas Diam belum mengirim unggahan")
    # No person is named anywhere; C has no admin, so no nudge is recorded for it.
    for _, text in world.telegram.sent + world.whatsapp.sent:
        assert "Nama Rahasia" not in text and "NIP" not in text
        assert len(as_whatsapp(text)) <= MAX_CHARS  # type: ignore[arg-type]
    assert sent == 5
    with Session(engine) as check:
        run = check.exec(select(RecapRun)).one()
        assert (run.kind, str(run.day), run.sent, run.claimed_by) == (
            "daily",
            "2026-12-01",
            5,
            "w1",
        )
        assert [n.opd_id for n in check.exec(select(SilenceNudge))] == [_opd_id(check, "D")]


def _opd_id(session: Session, kode: str) -> int:
    found = opd_by_kode(session, kode).id
    assert found is not None
    return found


def test_two_workers_racing_send_it_once(engine: Engine, database_url: str, world: World) -> None:
    other_engine = make_engine(database_url)
    try:
        first = recapper(engine, database_url, world, worker="w1")
        second = recapper(other_engine, database_url, world, worker="w2")

        async def race() -> list[int | None]:
            return list(
                await asyncio.gather(
                    first.run_once(NOW),
                    second.run_once(NOW),
                    first.run_once(NOW + timedelta(minutes=1)),
                    second.run_once(NOW + timedelta(hours=2)),
                )
            )

        results = asyncio.run(race())
    finally:
        other_engine.dispose()
    assert sorted(results, key=str) == [5, None, None, None]
    assert len(world.telegram.to("100")) == 1
    with Session(engine) as check:
        assert check.exec(select(func.count()).select_from(RecapRun)).one() == 1


def test_not_before_the_time_not_in_quiet_hours_and_caught_up_the_same_day_only(
    engine: Engine, database_url: str, world: World
) -> None:
    r = recapper(engine, database_url, world)

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, day, hour, minute, tzinfo=WIB).astimezone(UTC)

    async def story() -> list[int | None]:
        return [
            await r.run_once(at(1, 15, 59)),  # before 16:00
            await r.run_once(at(1, 21, 30)),  # the worker was down at 16:00; now quiet hours
            await r.run_once(at(2, 6, 30)),  # next morning: yesterday's recap is not sent
            await r.run_once(at(2, 15, 0)),
            await r.run_once(at(2, 18, 45)),  # restarted after 16:00: caught up the same day
            await r.run_once(at(2, 19, 0)),
        ]

    results = asyncio.run(story())
    assert results[:4] == [None, None, None, None]
    assert results[4] and results[5] is None
    with Session(engine) as check:
        assert [str(r.day) for r in check.exec(select(RecapRun))] == ["2026-12-02"]
    assert headline(world) == "📊 <b>Rekap harian Gaung</b>, Rabu, 2 Desember 2026, pukul 18:45 WIB"


def test_the_recap_can_be_turned_off_and_moved(
    engine: Engine, database_url: str, world: World
) -> None:
    off = recapper(engine, database_url, world, recap_enabled=False)
    assert asyncio.run(off.run_once(NOW)) is None
    early = recapper(engine, database_url, world, recap_time="07:30")
    assert asyncio.run(early.run_once(NOW - timedelta(hours=8, minutes=31))) is None  # 07:29
    assert asyncio.run(early.run_once(NOW - timedelta(hours=8, minutes=30)))
    assert (
        headline(world) == "📊 <b>Rekap harian Gaung</b>, Selasa, 1 Desember 2026, pukul 07:30 WIB"
    )


def test_a_silent_opd_is_nudged_once_per_period(
    engine: Engine, session: Session, database_url: str, world: World
) -> None:
    r = recapper(engine, database_url, world)

    def nudges() -> list[str]:
        return [t for t in world.telegram.to("400") if t.startswith("👋")]

    asyncio.run(r.run_once(NOW))
    assert len(nudges()) == 1
    for day in range(1, 7):  # the next six recaps: still silent, not nudged again
        asyncio.run(r.run_once(NOW + timedelta(days=day)))
    assert len(nudges()) == 1
    asyncio.run(r.run_once(NOW + timedelta(days=7)))  # a week on, still silent
    assert nudges()[-1].startswith("👋 Sudah 27 hari Dinas Diam")
    assert len(nudges()) == 2
    # D posts; its next silence begins 14 days later and earns a nudge at once.
    _post(session, "D", NOW + 8 * DAY)
    session.commit()
    for day in range(8, 22):
        asyncio.run(r.run_once(NOW + timedelta(days=day)))
    assert len(nudges()) == 2
    asyncio.run(r.run_once(NOW + timedelta(days=22)))
    assert len(nudges()) == 3 and nudges()[-1].startswith("👋 Sudah 14 hari Dinas Diam")


def test_diskominfos_recap_fits_a_whatsapp_body_with_the_whole_regency(
    engine: Engine, session: Session
) -> None:
    for n in range(58):
        ensure_opd(session, f"KECAMATAN{n:02d}", f"Kecamatan Nomor {n}")
    session.commit()
    recap = build_recap(session, NOW, WIB, silent_days=14)
    text = diskominfo_text(recap)
    assert len(recap.silent) == 58
    assert len(as_whatsapp(text)) <= MAX_CHARS
    assert "lainnya" in text and text.count("KECAMATAN") < 58
    assert session.exec(select(func.count()).select_from(Post)).one() == 0


def test_the_recap_reaches_a_telegram_and_a_whatsapp_admin_through_the_networks(
    engine: Engine, session: Session, database_url: str
) -> None:
    """The worker's own notifier (``registry.notifier``), the emulators at the network edge."""
    limits = Limits(rate=1000, pair_rate=50, pair_burst=50, messaging_limit=None)
    with TelegramEmulator() as tg, WhatsAppEmulator(limits) as wa:
        boss = tg.world.add_user("Kepala Diskominfo", started=True)
        opd_admin = wa.world.add_user("Admin Dinkes", in_window=True)
        add_asn(session, opd="DINKES")
        add_admin(session, role="diskominfo", telegram_id=boss.id, actor="uji")
        add_admin(session, role="opd", opd_kode="DINKES", phone=f"+{opd_admin.wa_id}", actor="uji")
        session.commit()
        settings = Settings(
            database_url=database_url,
            recap_enabled=True,
            telegram_token=tg.token,
            telegram_api_url=tg.url,
            whatsapp_token=wa.token,
            whatsapp_phone_id=wa.phone_id,
            whatsapp_api_url=wa.url,
        )

        async def run() -> int | None:
            registry = build_registry(settings, engine)
            try:
                notifier = await registry.notifier()
                return await Recapper(engine, settings, notifier, worker="w").run_once(NOW)
            finally:
                await registry.aclose()

        assert asyncio.run(run()) == 3  # Diskominfo's recap, DINKES's recap and its nudge
        [telegram] = tg.world.messages(boss.id)
        assert telegram.text.startswith("📊 Rekap harian Gaung, Selasa, 1 Desember 2026")
        assert "Tanpa unggahan ≥14 hari (1): DINKES" in telegram.text
        recap, nudge = wa.world.messages(opd_admin.wa_id)
        # The admin never wrote to Gaung, so as far as Gaung knows their 24-hour window is
        # closed: the recap goes as the notice template, the recap's text as its parameter.
        body = recap.text()
        assert body.startswith("Pemberitahuan dari Gaung: ")
        assert "📊 *Rekap harian Gaung* untuk OPD DINKES, Selasa, 1 Desember 2026" in body
        assert "0 dari 0 ASN yang menerima kiriman" in body and len(body) <= MAX_CHARS
        assert "👋 OPD DINKES belum pernah mengirim" in nudge.text()


class Died(BaseException):
    """The process dying mid-send (what no ``except Exception`` catches)."""


class DiesOnSecond(Recorder):
    async def deliver(self, chat_id: str, reply: Reply) -> None:
        if self.sent:
            raise Died
        await super().deliver(chat_id, reply)


def test_a_worker_dying_mid_send_loses_that_days_recap_and_never_repeats_it(
    engine: Engine, database_url: str, world: World
) -> None:
    dying = DiesOnSecond()
    world.notifier.add("telegram", dying)
    first = recapper(engine, database_url, world, worker="w1")
    with pytest.raises(Died):
        asyncio.run(first.run_once(NOW))
    assert len(dying.sent) == 1  # Diskominfo's, then A's on WhatsApp, then died at B's
    assert len(world.whatsapp.sent) == 1
    world.notifier.add("telegram", world.telegram)
    second = recapper(engine, database_url, world, worker="w2")
    assert asyncio.run(second.run_once(NOW + timedelta(minutes=1))) is None
    assert world.telegram.sent == [] and len(world.whatsapp.sent) == 1  # nothing sent again
    with Session(engine) as check:
        run = check.exec(select(RecapRun)).one()
        assert (run.claimed_by, run.finished_at) == ("w1", None)
    # The next day goes out as usual.
    assert asyncio.run(second.run_once(NOW + timedelta(days=1)))
