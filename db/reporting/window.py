"""Report windows: WIB dates or ISO timestamps in, aware UTC datetimes out.

Operators think in local dates (``2026-11-01`` means midnight WIB); the database holds UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from db.errors import Invalid

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def parse_moment(text: str, tz: ZoneInfo, *, name: str = "tanggal") -> datetime:
    """A date is local midnight; a timestamp without an offset is local time."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"{name} {text!r} tidak dikenali: pakai tanggal (2026-11-01) atau waktu ISO "
            "(2026-11-01T08:00:00+07:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def resolve_window(
    start: str | datetime | None,
    end: str | datetime | None,
    tz: ZoneInfo,
    *,
    now: datetime | None = None,
) -> Window:
    """``[start, end)``; by default the last 30 days up to now."""
    now = now or datetime.now(UTC)
    end_dt = _moment(end, tz, "end") if end is not None else _ceil_second(now)
    start_dt = (
        _moment(start, tz, "start") if start is not None else end_dt - timedelta(DEFAULT_DAYS)
    )
    if start_dt >= end_dt:
        raise Invalid("start harus sebelum end")
    return Window(start_dt, end_dt)


def _moment(value: str | datetime, tz: ZoneInfo, name: str) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    return parse_moment(value, tz, name=name)


def _ceil_second(moment: datetime) -> datetime:
    floor = moment.replace(microsecond=0)
    return floor if floor == moment else floor + timedelta(seconds=1)


def local_iso(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds")
