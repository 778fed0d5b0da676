from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from db.accounts.limits import Limit, forget, spend, subject_of
from db.engine import session_scope
from tests.db.racing import race

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
NIP = Limit("nip", 3, timedelta(days=1))


def test_allowance_runs_out_within_its_window_and_returns_after_it(session: Session) -> None:
    who = subject_of("telegram", "42")
    assert [spend(session, NIP, who, now=T0 + timedelta(minutes=i)) for i in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    # Someone else, or another kind of allowance, is counted apart.
    assert spend(session, NIP, subject_of("telegram", "43"), now=T0)
    assert spend(session, Limit("message", 1, timedelta(minutes=1)), who, now=T0)
    # A day after the window opened, a fresh one.
    assert spend(session, NIP, who, now=T0 + timedelta(days=1))
    assert spend(session, NIP, who, now=T0 + timedelta(days=1, minutes=1))
    session.commit()


def test_nothing_is_allowed_when_the_allowance_is_zero(session: Session) -> None:
    assert not spend(session, Limit("nip", 0, timedelta(days=1)), "telegram:1", now=T0)


def test_forgetting_a_person_gives_them_a_fresh_window(session: Session) -> None:
    who = subject_of("whatsapp", "6281")
    for _ in range(3):
        spend(session, NIP, who, now=T0)
    assert not spend(session, NIP, who, now=T0)
    forget(session, who)
    assert spend(session, NIP, who, now=T0)


def test_processes_racing_for_the_last_units_get_exactly_the_allowance(engine: Engine) -> None:
    """Eight threads, each its own transaction, spend a limit of 5 at the same moment."""
    who = subject_of("telegram", "race")
    limit = Limit("nip", 5, timedelta(days=1))
    with session_scope(engine) as session:
        assert spend(session, limit, who, now=T0)  # the row exists; the rest race on UPDATE

    def one(_: int) -> bool:
        with session_scope(engine) as s:
            return spend(s, limit, who, now=T0 + timedelta(seconds=1))

    assert sorted(race(8, one)) == [False] * 4 + [True] * 4
