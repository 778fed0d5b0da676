"""OPD publishing activity: what each OPD put forward, per ISO week (WIB), and who fell silent.

The Bupati asked every OPD to report its activities on its own accounts; Diskominfo's question
is "who is publishing, and who has gone quiet?". Per OPD and week: posts submitted by its
admins, posts its official sources (feeds) produced, and posts approved. A post counts as a
feed's when a feed item became it (``feed_item.post_id``); everything else was sent in by a
person (an OPD admin, or Diskominfo through the CLI or API).

Weeks are bucketed in Python, as ``db.reporting.trend`` does: local-date arithmetic differs
between SQLite and PostgreSQL, and a regency submits a few thousand posts a year.

An OPD is *silent* when it has submitted no post (by any route, whatever became of it) for
``silent_days`` days up to the moment asked about; one that never submitted is silent too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from db.models import FeedItem, Opd, Post, table
from db.reporting.exports import as_text
from db.reporting.trend import Interval, _bucket_day, _buckets
from db.reporting.window import Window, local_iso


@dataclass
class WeekActivity:
    label: str  # ISO week, e.g. 2026-W48
    start: datetime  # clipped to the window, like the trend's buckets
    end: datetime
    by_admin: int = 0
    by_feed: int = 0
    approved: int = 0

    @property
    def submitted(self) -> int:
        return self.by_admin + self.by_feed


@dataclass
class OpdActivity:
    opd_id: int
    kode: str
    nama: str
    weeks: list[WeekActivity]
    last_submitted_at: datetime | None
    silent_days: int | None  # whole days since the last submission; None: never submitted
    silent: bool

    @property
    def by_admin(self) -> int:
        return sum(w.by_admin for w in self.weeks)

    @property
    def by_feed(self) -> int:
        return sum(w.by_feed for w in self.weeks)

    @property
    def approved(self) -> int:
        return sum(w.approved for w in self.weeks)


@dataclass
class Activity:
    window: Window
    as_of: datetime  # the moment silence is measured at: the window's end, or now if earlier
    threshold_days: int
    opd: list[OpdActivity] = field(default_factory=list)

    @property
    def silent(self) -> list[OpdActivity]:
        """Silent OPD, longest silence first (never-submitted ones lead)."""
        return sorted(
            (o for o in self.opd if o.silent),
            key=lambda o: (o.silent_days is not None, -(o.silent_days or 0), o.kode),
        )


def last_submissions(
    session: Session, as_of: datetime, opd_ids: Sequence[int] | None = None
) -> dict[int, datetime]:
    """Each OPD's latest post submission before ``as_of`` (one indexed pass per OPD)."""
    post = table(Post)
    stmt = (
        select(post.c.opd_id, func.max(post.c.submitted_at))
        .where(post.c.submitted_at < as_of)
        .group_by(post.c.opd_id)
    )
    if opd_ids is not None:
        stmt = stmt.where(post.c.opd_id.in_(opd_ids))
    found: dict[int, datetime] = {}
    for opd_id, last in session.connection().execute(stmt):
        # A MAX() over SQLite loses the column type: read it back through the model's type.
        found[int(opd_id)] = _aware(last)
    return found


def silence(last: datetime | None, as_of: datetime, threshold_days: int) -> tuple[int | None, bool]:
    """Whole days since ``last`` and whether that is a silence (never submitting is one)."""
    if last is None:
        return None, True
    days = (as_of - last) // timedelta(days=1)
    return days, as_of - last >= timedelta(days=threshold_days)


def activity(
    session: Session,
    window: Window,
    tz: ZoneInfo,
    *,
    threshold_days: int,
    now: datetime,
    opd_ids: Sequence[int] | None = None,
) -> Activity:
    """Every week of the window for every OPD (empty weeks included, so tables line up)."""
    as_of = min(window.end, now)
    opd, post, item = table(Opd), table(Post), table(FeedItem)
    names = select(opd.c.id, opd.c.kode, opd.c.nama).order_by(opd.c.kode)
    if opd_ids is not None:
        names = names.where(opd.c.id.in_(opd_ids))
    conn = session.connection()
    result = Activity(window, as_of, threshold_days)
    lasts = last_submissions(session, as_of, opd_ids)
    by_id: dict[int, OpdActivity] = {}
    for row in conn.execute(names):
        days, silent = silence(lasts.get(row.id), as_of, threshold_days)
        weeks = [WeekActivity(b.label, b.start, b.end) for b in _buckets(window, Interval.WEEK, tz)]
        by_id[row.id] = OpdActivity(
            row.id, row.kode, row.nama, weeks, lasts.get(row.id), days, silent
        )
        result.opd.append(by_id[row.id])
    if not by_id:
        return result
    index = {
        _bucket_day(w.start, Interval.WEEK, tz): i
        for i, w in enumerate(next(iter(by_id.values())).weeks)
    }

    from_feed = select(item.c.id).where(item.c.post_id == post.c.id).exists()
    stmt = select(post.c.opd_id, post.c.submitted_at, post.c.approved_at, from_feed).where(
        or_(
            and_(post.c.submitted_at >= window.start, post.c.submitted_at < window.end),
            and_(post.c.approved_at >= window.start, post.c.approved_at < window.end),
        )
    )
    if opd_ids is not None:
        stmt = stmt.where(post.c.opd_id.in_(opd_ids))
    for opd_id, submitted_at, approved_at, feed in conn.execute(stmt):
        entry = by_id.get(opd_id)
        if entry is None:
            continue
        if window.start <= submitted_at < window.end:
            week = entry.weeks[index[_bucket_day(submitted_at, Interval.WEEK, tz)]]
            if feed:
                week.by_feed += 1
            else:
                week.by_admin += 1
        if approved_at is not None and window.start <= approved_at < window.end:
            entry.weeks[index[_bucket_day(approved_at, Interval.WEEK, tz)]].approved += 1
    return result


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


CSV_HEADER = (
    "kode",
    "nama",
    "minggu",
    "mulai",
    "diajukan_admin",
    "diajukan_feed",
    "disetujui",
    "hari_sejak_pengajuan_terakhir",
    "diam",
)


def to_csv(result: Activity, tz: ZoneInfo) -> str:
    """One row per OPD and week, for a spreadsheet (the API's and the dashboard's download).

    An OPD's code and name come from an OPD or roster file: one beginning with ``=`` (or
    another formula start) is written as text, as in the participation export (issue 12).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for o in result.opd:
        for w in o.weeks:
            writer.writerow(
                [
                    as_text(o.kode),
                    as_text(o.nama),
                    w.label,
                    local_iso(w.start, tz),
                    w.by_admin,
                    w.by_feed,
                    w.approved,
                    "" if o.silent_days is None else o.silent_days,
                    "ya" if o.silent else "tidak",
                ]
            )
    return out.getvalue()
