"""Participation over time: the participation table's delivery counts, per WIB day or ISO week.

A post's counts land in the bucket of the local date on which it was approved, the same moment
``db.reporting.participation`` windows posts by, so the buckets of a window always add up to that
window's total row. The counters table is summed per post (about three posts a day), and the
posts are bucketed here rather than in SQL: date arithmetic in a local time zone differs
between SQLite and PostgreSQL, and a year is only about a thousand rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session

from db.errors import Invalid
from db.reporting.participation import Counts, counter_sums
from db.reporting.window import Window

# A chart with more points than this is unreadable, and the response would grow unbounded.
MAX_BUCKETS = 1000


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"


def parse_interval(text: str) -> Interval:
    try:
        return Interval(text.strip().lower())
    except ValueError:
        raise Invalid(
            f"interval {text!r} tidak dikenal: pakai day (harian) atau week (mingguan)"
        ) from None


@dataclass
class Bucket:
    """One day or week, clipped to the window so that the buckets partition it exactly."""

    label: str
    start: datetime
    end: datetime
    counts: Counts = field(default_factory=Counts)


@dataclass
class Trend:
    window: Window
    interval: Interval
    buckets: list[Bucket]
    total: Counts = field(default_factory=Counts)


def trend(
    session: Session,
    window: Window,
    interval: Interval,
    tz: ZoneInfo,
    *,
    opd_ids: Sequence[int] | None = None,
) -> Trend:
    """Every bucket of the window, empty ones included, so a chart's time axis has no gaps."""
    buckets = _buckets(window, interval, tz)
    by_day = {_bucket_day(b.start, interval, tz): b for b in buckets}
    stmt = counter_sums(window, opd_ids=opd_ids, per="post")
    result = Trend(window, interval, buckets)
    rows = session.connection().execute(stmt)
    for approved_at, delivered, liked, shared, participated, opened in rows:
        counts = Counts(
            delivered=int(delivered),
            liked=int(liked),
            shared=int(shared),
            participated=int(participated),
            opened=int(opened),
        )
        by_day[_bucket_day(approved_at, interval, tz)].counts.add(counts)
        result.total.add(counts)
    return result


def _bucket_day(moment: datetime, interval: Interval, tz: ZoneInfo) -> date:
    """The local date that names the bucket holding ``moment``: its day, or its week's Monday."""
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday()) if interval is Interval.WEEK else day


def _buckets(window: Window, interval: Interval, tz: ZoneInfo) -> list[Bucket]:
    step = timedelta(days=7 if interval is Interval.WEEK else 1)
    first = _bucket_day(window.start, interval, tz)
    last = _bucket_day(window.end - timedelta(microseconds=1), interval, tz)
    count = (last - first) // step + 1
    if count > MAX_BUCKETS:
        raise Invalid(
            f"rentang terlalu panjang untuk interval {interval.value}: {count} titik, "
            f"paling banyak {MAX_BUCKETS}; perpendek rentang atau pakai interval week"
        )
    buckets = []
    day = first
    while day <= last:
        start = max(_midnight(day, tz), window.start)
        end = min(_midnight(day + step, tz), window.end)
        buckets.append(Bucket(_label(day, interval), start, end))
        day += step
    return buckets


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _label(day: date, interval: Interval) -> str:
    if interval is Interval.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()
