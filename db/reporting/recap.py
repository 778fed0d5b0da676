"""The daily recap's numbers, and the records that make it go out once a day.

What a recap says is read from the participation table (``db.reporting.participation``) and
the follow-up funnel (``db.reporting.followup``): no second rate computation. Standings are per
OPD only; no person is ranked. Windows end at the moment the recap is made: "today" is from
local midnight, "the week" the last 7 days, compared with the 7 days before them (equal
lengths, so the change in points compares like with like on any weekday).

Exactly once per day: a worker claims the (kind, local day) row before sending; the unique
constraint lets only one of any number of racing workers succeed, and the row is committed
before anything is sent, so a crash loses at most that day's recap and never repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlmodel import Session

from db.delivery.reminders import in_quiet_hours
from db.models import Opd, RecapRun, SilenceNudge, table
from db.reporting.activity import OpdActivity, activity
from db.reporting.followup import funnel
from db.reporting.participation import Participation, participation
from db.reporting.window import Window

DAILY = "daily"
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Standing:
    """One OPD in a league table. ``rank`` is None when nothing reached its ASN (a rate of
    nothing is no standing); equal rates share a rank."""

    opd_id: int
    kode: str
    nama: str
    rank: int | None
    rate: float
    delivered: int
    change: float | None  # in percentage points from the previous window; None: nothing then


@dataclass(frozen=True)
class League:
    window: Window
    rows: list[Standing]  # ranked OPD by rank, then the unranked by code
    ranked: int  # how many OPD have a rank (the N of "rank r of N")
    total_rate: float
    total_delivered: int
    total_change: float | None

    def of(self, opd_id: int) -> Standing | None:
        return next((r for r in self.rows if r.opd_id == opd_id), None)


@dataclass(frozen=True)
class FollowUp:
    """People of one OPD's roster, counted, never named (the names are on the dashboard)."""

    roster: int
    registered: int
    received: int  # received at least one post approved in the week
    participated: int  # and confirmed at least one

    @property
    def not_taken_part(self) -> int:
        return self.received - self.participated


@dataclass(frozen=True)
class Recap:
    day: date
    made_at: datetime
    tz: ZoneInfo
    today: League
    week: League
    silent: list[OpdActivity]
    silent_days: int
    follow_up: dict[int, FollowUp]  # by OPD id


def recap_day(
    now: datetime, tz: ZoneInfo, at: time, quiet_start: time, quiet_end: time
) -> date | None:
    """The local day whose recap is due at ``now``, or None: before ``at`` (a worker started
    later the same day catches up; yesterday's recap is never sent today) or in quiet hours."""
    local = now.astimezone(tz)
    if local.time() < at or in_quiet_hours(now, tz, quiet_start, quiet_end):
        return None
    return local.date()


def claimed(session: Session, kind: str, day: date) -> bool:
    run = table(RecapRun)
    found = session.connection().execute(
        select(run.c.id).where(run.c.kind == kind, run.c.day == day)
    )
    return found.first() is not None


def claim_recap(session: Session, kind: str, day: date, *, now: datetime, worker: str) -> bool:
    """Claim the day's recap for this worker: False if it is already taken. A worker racing
    past the check gets the unique constraint's ``IntegrityError`` at flush (or commit), which
    the caller treats as "taken"."""
    if claimed(session, kind, day):
        return False
    session.add(RecapRun(kind=kind, day=day, claimed_by=worker[:64], claimed_at=now))
    session.flush()
    return True


def finish_recap(session: Session, kind: str, day: date, *, now: datetime, sent: int) -> None:
    run = table(RecapRun)
    session.connection().execute(
        update(run).where(run.c.kind == kind, run.c.day == day).values(finished_at=now, sent=sent)
    )


def league(session: Session, window: Window, previous: Window | None = None) -> League:
    """The participation table of ``window`` ranked by rate, with the change from ``previous``."""
    now_report = participation(session, window)
    before = participation(session, previous) if previous is not None else None
    ids = _opd_ids(session)
    prev_rates: dict[str, float | None] = {}
    if before is not None:
        prev_rates = {
            r.kode: r.counts.participation_rate if r.counts.delivered else None for r in before.rows
        }

    def change(kode: str, rate: float) -> float | None:
        old = prev_rates.get(kode)
        return None if old is None else (rate - old) * 100

    active = sorted(
        (r for r in now_report.rows if r.counts.delivered),
        key=lambda r: (-round(r.counts.participation_rate, 3), r.kode),
    )
    rows: list[Standing] = []
    rank, last = 0, None
    for i, r in enumerate(active, start=1):
        rate = r.counts.participation_rate
        if round(rate, 3) != last:
            rank, last = i, round(rate, 3)
        rows.append(
            Standing(
                ids[r.kode], r.kode, r.nama, rank, rate, r.counts.delivered, change(r.kode, rate)
            )
        )
    for r in now_report.rows:
        if not r.counts.delivered:
            rows.append(Standing(ids[r.kode], r.kode, r.nama, None, 0.0, 0, None))
    total = now_report.total
    total_change = None
    if before is not None and before.total.delivered and total.delivered:
        total_change = (total.participation_rate - before.total.participation_rate) * 100
    return League(
        window,
        rows,
        len(active),
        total.participation_rate,
        total.delivered,
        total_change,
    )


def follow_up(session: Session, report: Participation) -> dict[int, FollowUp]:
    ids = _opd_ids(session)
    return {
        ids[f.kode]: FollowUp(f.roster, f.registered, f.received, f.participated)
        for f in funnel(session, report)
    }


def build_recap(session: Session, now: datetime, tz: ZoneInfo, *, silent_days: int) -> Recap:
    """Everything the day's recap says, for Diskominfo and for every OPD's admins."""
    local = now.astimezone(tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    week = Window(now - WEEK, now)
    return Recap(
        day=local.date(),
        made_at=now,
        tz=tz,
        today=league(session, Window(midnight, now)),
        week=league(session, week, Window(now - 2 * WEEK, now - WEEK)),
        silent=activity(session, week, tz, threshold_days=silent_days, now=now).silent,
        silent_days=silent_days,
        follow_up=follow_up(session, participation(session, week)),
    )


def nudge_due(session: Session, silent: OpdActivity, *, now: datetime, every_days: int) -> bool:
    """At most one nudge per ``every_days`` in one silence; a silence that began after the
    last nudge (the OPD posted since) may be nudged at once."""
    nudge = table(SilenceNudge)
    last: datetime | None = (
        session.connection()
        .execute(select(func.max(nudge.c.nudged_at)).where(nudge.c.opd_id == silent.opd_id))
        .scalar_one_or_none()
    )
    if last is None:
        return True
    if last.tzinfo is None:  # SQLite's MAX() may hand back the stored naive UTC
        last = last.replace(tzinfo=UTC)
    if silent.last_submitted_at is not None and last < silent.last_submitted_at:
        return True
    return now - last >= timedelta(days=every_days)


def record_nudge(session: Session, silent: OpdActivity, *, now: datetime) -> None:
    session.add(SilenceNudge(opd_id=silent.opd_id, nudged_at=now, silent_days=silent.silent_days))
    session.flush()


def _opd_ids(session: Session) -> dict[str, int]:
    opd = table(Opd)
    return {kode: int(i) for i, kode in session.connection().execute(select(opd.c.id, opd.c.kode))}
