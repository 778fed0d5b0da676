"""The daily recap: to Diskominfo the OPD league tables and the silent OPD, to each OPD's admins
their standing and how many of their ASN have not taken part, and a gentle nudge to the admins
of an OPD that has gone silent.

Run by every process that runs the workers (``gaung worker``, ``gaung serve --worker``,
``gaung bot``); the claim in ``db.reporting.recap`` makes one of them send it, once a day, at
``GAUNG_RECAP_TIME`` or at start-up later that day, never in quiet hours. Messages stay within
WhatsApp's 1,024-character body: the top of each table and the reader's own OPD; the rest is
on the dashboard. Names of ASN never appear here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import date, datetime, time

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.conversation.notifier import Notifier
from bot.conversation.people import tell_admins
from bot.conversation.replies import Notice, Reply
from bot.periodic import repeat
from bot.texts import Markup, as_whatsapp, th
from db.accounts.admins import reachable_admins
from db.engine import session_scope
from db.errors import NotFound
from db.models import Opd, Role
from db.reporting.activity import OpdActivity
from db.reporting.recap import (
    DAILY,
    League,
    Recap,
    Standing,
    build_recap,
    claim_recap,
    claimed,
    finish_recap,
    nudge_due,
    recap_day,
    record_nudge,
)
from db.roster.opd import all_opd, opd_by_kode
from db.settings import Settings
from db.types import utcnow

log = logging.getLogger("gaung.recap")

TOP = 5  # rows of each table in a chat message; the whole table is on the dashboard
MAX_CHARS = 1024  # a WhatsApp interactive/template body
IDLE_SECONDS = 60.0

HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
BULAN = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


def tanggal(day: date) -> str:
    return f"{HARI[day.weekday()]}, {day.day} {BULAN[day.month - 1]} {day.year}"


def percent(rate: float) -> str:
    return f"{round(rate * 100)}%"


def points(change: float | None) -> str:
    """``+3,1 poin`` / ``-0,4 poin``; no comparison when the earlier window had nothing."""
    if change is None:
        return th("recap.no_change")
    value = round(change, 1)
    sign = "-" if value < 0 else "+"
    return th("recap.points", sign=sign, value=f"{abs(value):.1f}".replace(".", ","))


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _table(league: League, own: int | None, *, change: bool) -> list[str]:
    """The top ``TOP`` ranked OPD, then the reader's own OPD if it is not among them."""
    ranked = [r for r in league.rows if r.rank is not None]
    shown = ranked[:TOP]
    mine = league.of(own) if own is not None else None
    if mine is not None and mine not in shown:
        shown.append(mine)
    lines = [_row(r, change=change) for r in shown]
    if not ranked:
        lines.append(th("recap.empty"))
    else:
        key = "recap.total_change" if change else "recap.total"
        lines.append(
            th(
                key,
                rate=percent(league.total_rate),
                delivered=_thousands(league.total_delivered),
                change=Markup(points(league.total_change)),
            )
        )
    return lines


def _row(row: Standing, *, change: bool) -> str:
    if row.rank is None:
        return th("recap.row_none", kode=row.kode)
    if change:
        return th(
            "recap.row_change",
            rank=row.rank,
            kode=row.kode,
            rate=percent(row.rate),
            change=Markup(points(row.change)),
        )
    return th("recap.row", rank=row.rank, kode=row.kode, rate=percent(row.rate))


def diskominfo_text(recap: Recap, own: int | None = None) -> Markup:
    """The league tables and the silent OPD, within ``MAX_CHARS`` as WhatsApp shows it: the
    silent list is cut short (``+n lainnya``) when it would not fit."""
    head = [
        th(
            "recap.title",
            tanggal=tanggal(recap.day),
            jam=recap.made_at.astimezone(recap.tz).strftime("%H:%M"),
        ),
        "",
        th("recap.day_head", n=recap.today.ranked),
        *_table(recap.today, own, change=False),
        "",
        th("recap.week_head", n=recap.week.ranked),
        *_table(recap.week, own, change=True),
        "",
    ]
    foot = ["", th("recap.footer")]
    if not recap.silent:
        return Markup("\n".join([*head, th("recap.silent_none", days=recap.silent_days), *foot]))
    codes = [o.kode for o in recap.silent]
    for shown in range(len(codes), -1, -1):
        listed = ", ".join(codes[:shown])
        if shown < len(codes):
            more = th("recap.more", n=len(codes) - shown)
            listed = f"{listed}, {more}" if listed else more
        line = th("recap.silent", days=recap.silent_days, n=len(codes), list=listed)
        text = Markup("\n".join([*head, line, *foot]))
        if len(as_whatsapp(text)) <= MAX_CHARS:
            return text
    return text


def opd_text(recap: Recap, opd: Opd) -> Markup:
    """One OPD's standing and the count (never the names) of its ASN yet to take part."""
    assert opd.id is not None
    lines = [th("recap.opd_title", opd=opd.nama, tanggal=tanggal(recap.day)), ""]
    today = recap.today.of(opd.id)
    if today is None or today.rank is None:
        lines.append(th("recap.opd_day_none", kode=opd.kode))
    else:
        lines.append(
            th("recap.opd_day", rate=percent(today.rate), rank=today.rank, n=recap.today.ranked)
        )
    week = recap.week.of(opd.id)
    if week is None or week.rank is None:
        lines.append(th("recap.opd_week_none", kode=opd.kode))
    else:
        lines.append(
            th(
                "recap.opd_week",
                rate=percent(week.rate),
                change=Markup(points(week.change)),
                rank=week.rank,
                n=recap.week.ranked,
            )
        )
    follow = recap.follow_up.get(opd.id)
    if follow is not None:
        lines.append(
            th(
                "recap.opd_followup",
                missing=_thousands(follow.not_taken_part),
                received=_thousands(follow.received),
                unregistered=_thousands(follow.roster - follow.registered),
                roster=_thousands(follow.roster),
            )
        )
    lines += ["", th("recap.opd_footer")]
    return Markup("\n".join(lines))


def nudge_text(silent: OpdActivity) -> Markup:
    if silent.silent_days is None:
        return th("recap.nudge_never", opd=silent.nama)
    return th("recap.nudge", opd=silent.nama, days=silent.silent_days)


def recap_notices(
    session: Session, recap: Recap, *, now: datetime, nudge_every_days: int
) -> list[Notice]:
    """Every notice of the day: Diskominfo's recap, each OPD's, and the nudges that are due
    (recorded here, in the same transaction, so a nudge is never sent twice in its period)."""
    notices: list[Notice] = []
    diskominfo = reachable_admins(session, role=Role.DISKOMINFO)
    if diskominfo:
        own: int | None = None
        with contextlib.suppress(NotFound):
            own = opd_by_kode(session, "DISKOMINFO").id
        notices += tell_admins(session, diskominfo, Reply(diskominfo_text(recap, own)))
    for opd in all_opd(session):
        admins = reachable_admins(session, role=Role.OPD, opd_id=opd.id)
        if admins:
            notices += tell_admins(session, admins, Reply(opd_text(recap, opd)))
    for silent in recap.silent:
        admins = reachable_admins(session, role=Role.OPD, opd_id=silent.opd_id)
        if not admins or not nudge_due(session, silent, now=now, every_days=nudge_every_days):
            continue
        record_nudge(session, silent, now=now)
        notices += tell_admins(session, admins, Reply(nudge_text(silent)))
    return notices


@dataclass(eq=False)
class Recapper:
    """Sends the daily recap from a worker process; ``run`` loops until ``stop`` is set."""

    engine: Engine
    settings: Settings
    notifier: Notifier
    _: KW_ONLY
    worker: str
    clock: Callable[[], datetime] = utcnow

    @property
    def at(self) -> time:
        return self.settings.recap_time

    async def run_once(self, now: datetime | None = None) -> int | None:
        """Send the recap if it is due and this worker wins the day's claim: how many notices
        went out, or None when there was nothing to do.

        The numbers are read before claiming, so a database hiccup while reading leaves the
        day unclaimed for the next minute's try; only what follows the claim (recording the
        nudges, sending) can lose the day's recap, and nothing can send it twice."""
        if not self.settings.recap_enabled:
            return None
        now = now or self.clock()
        s = self.settings
        day = recap_day(now, s.tz, s.recap_time, s.quiet_hours_start, s.quiet_hours_end)
        if day is None or await asyncio.to_thread(self._taken, day):
            return None
        recap = await asyncio.to_thread(self._build, now)
        if not await asyncio.to_thread(self._claim, day, now):
            return None
        notices = await asyncio.to_thread(self._notices, recap, now)
        sent = await self.notifier.tell(notices)
        await asyncio.to_thread(self._finish, day, now, sent)
        log.info("rekap harian %s: %d dari %d pesan terkirim", day, sent, len(notices))
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        async def one_round() -> int:
            return await self.run_once() or 0

        await repeat(one_round, stop, every=IDLE_SECONDS, name="daily recap")

    def _claim(self, day: date, now: datetime) -> bool:
        try:
            with session_scope(self.engine) as session:
                return claim_recap(session, DAILY, day, now=now, worker=self.worker)
        except IntegrityError:  # another worker claimed it between our check and our insert
            return False

    def _taken(self, day: date) -> bool:
        with session_scope(self.engine, readonly=True) as session:
            return claimed(session, DAILY, day)

    def _build(self, now: datetime) -> Recap:
        with session_scope(self.engine, readonly=True) as session:
            return build_recap(
                session, now, self.settings.tz, silent_days=self.settings.silent_days
            )

    def _notices(self, recap: Recap, now: datetime) -> list[Notice]:
        with session_scope(self.engine) as session:
            return recap_notices(
                session, recap, now=now, nudge_every_days=self.settings.silent_nudge_days
            )

    def _finish(self, day: date, now: datetime, sent: int) -> None:
        with session_scope(self.engine) as session:
            finish_recap(session, DAILY, day, now=now, sent=sent)
