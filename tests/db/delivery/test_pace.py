"""The bot's one send budget in the database: processes interleave and share every 429."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from db.delivery.pace import (
    CAP,
    CUT,
    current_pace,
    record_pause,
    record_rate_limited,
    reserve_slots,
)
from db.engine import make_engine, session_scope

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_two_processes_reserve_one_budget_between_them(engine: Engine, database_url: str) -> None:
    other = make_engine(database_url)  # a second process has its own connections
    try:
        with session_scope(engine) as session:
            first = reserve_slots(session, "telegram", want=6, ceiling=30, now=NOW)
        with session_scope(other) as session:
            second = reserve_slots(session, "telegram", want=6, ceiling=30, now=NOW)
    finally:
        other.dispose()
    assert first.rate == pytest.approx(30 * CAP)
    assert (first.delay, first.count) == (0.0, 6)
    # The second process's slots begin where the first's end: together they keep one pace.
    assert second.delay == pytest.approx(6 * first.interval, abs=1e-3)
    assert second.interval == pytest.approx(first.interval)


def test_a_429_seen_by_one_process_pauses_and_slows_the_others(
    engine: Engine, database_url: str
) -> None:
    with session_scope(engine) as session:
        reserve_slots(session, "telegram", want=1, ceiling=30, now=NOW)
        record_rate_limited(session, "telegram", retry_after=3, ceiling=30, now=NOW)
        # Sends already on the wire answer 429 too: they extend the wait but cut nothing more.
        record_rate_limited(session, "telegram", retry_after=2, ceiling=30, now=NOW)
    other = make_engine(database_url)
    try:
        with session_scope(other) as session:
            grant = reserve_slots(
                session, "telegram", want=4, ceiling=30, now=NOW + timedelta(seconds=1)
            )
            rate, paused = current_pace(session, "telegram")
    finally:
        other.dispose()
    assert grant.pause == pytest.approx(2.0, abs=1e-3)
    assert grant.delay == pytest.approx(2.0, abs=1e-3)
    assert rate == pytest.approx(30 * CAP * CUT)
    assert paused == NOW + timedelta(seconds=3)


def test_an_outage_pause_keeps_the_learned_rate(engine: Engine) -> None:
    with session_scope(engine) as session:
        reserve_slots(session, "telegram", want=1, ceiling=30, now=NOW)
        record_pause(session, "telegram", seconds=5, now=NOW)
        grant = reserve_slots(
            session, "telegram", want=1, ceiling=30, now=NOW + timedelta(seconds=1)
        )
    assert grant.pause == pytest.approx(4.0, abs=1e-3)
    assert grant.rate == pytest.approx(30 * CAP)


def test_an_upgraded_rate_starts_at_the_new_ceilings_pace(engine: Engine) -> None:
    """A worker restarted with ``GAUNG_WHATSAPP_RATE`` raised (80/s → 1,000/s) is not held to
    the rate remembered under 80/s while it climbs."""
    with session_scope(engine) as session:
        reserve_slots(session, "whatsapp", want=20, ceiling=80, now=NOW)
    later = NOW + timedelta(minutes=2)
    with session_scope(engine) as session:
        grant = reserve_slots(session, "whatsapp", want=20, ceiling=1000, now=later)
        rate, _ = current_pace(session, "whatsapp")
    assert grant.rate == pytest.approx(1000 * CAP)
    assert rate == pytest.approx(1000 * CAP)
