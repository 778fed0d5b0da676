"""Dashboard links and sessions: signed with the setting's key, kept in the database, a link
spent by its first use, a session ended by signing out, neither standing in for the other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.accounts.signing import (
    LINK_TTL,
    SESSION_TTL,
    dashboard_link,
    end_session,
    exchange_link,
    forget_expired,
    session_subject,
    start_session,
)
from db.engine import session_scope
from db.models import DashboardSession

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def test_a_link_works_once_within_its_time(session: Session) -> None:
    token = dashboard_link(session, KEY, subject="admin:5", now=NOW)
    assert exchange_link(session, KEY, token, now=NOW + LINK_TTL - timedelta(seconds=1)) == (
        "admin:5"
    )
    assert exchange_link(session, KEY, token, now=NOW + timedelta(minutes=1)) is None
    late = dashboard_link(session, KEY, subject="admin:5", now=NOW)
    assert exchange_link(session, KEY, late, now=NOW + LINK_TTL) is None


def test_two_racing_exchanges_of_one_link_sign_in_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        token = dashboard_link(session, KEY, subject="admin:5", now=NOW)
    with session_scope(engine) as first:
        won = exchange_link(first, KEY, token, now=NOW)
    with session_scope(engine) as second:
        lost = exchange_link(second, KEY, token, now=NOW)
    assert (won, lost) == ("admin:5", None)


def test_a_session_lasts_until_it_expires_or_is_ended(session: Session) -> None:
    token = start_session(session, KEY, subject="apikey:7", now=NOW)
    last = NOW + SESSION_TTL - timedelta(seconds=1)
    assert session_subject(session, KEY, token, now=last) == "apikey:7"
    assert session_subject(session, KEY, token, now=NOW + SESSION_TTL) is None
    assert end_session(session, KEY, token, now=NOW)
    assert session_subject(session, KEY, token, now=NOW) is None
    assert not end_session(session, KEY, token, now=NOW)  # already ended


def test_the_database_holds_neither_tokens_nor_the_key(session: Session) -> None:
    link = dashboard_link(session, KEY, subject="admin:5", now=NOW)
    cookie = start_session(session, KEY, subject="admin:5", now=NOW)
    stored = " ".join(
        f"{r.token_hash} {r.subject}" for r in session.exec(select(DashboardSession)).all()
    )
    for secret in (link, cookie, link.split(".")[1], KEY.decode()):
        assert secret not in stored


def test_links_and_sessions_cannot_stand_in_for_each_other(session: Session) -> None:
    link = dashboard_link(session, KEY, subject="admin:5", now=NOW)
    assert session_subject(session, KEY, link, now=NOW) is None
    cookie = start_session(session, KEY, subject="admin:5", now=NOW)
    assert exchange_link(session, KEY, cookie, now=NOW) is None


def test_another_key_makes_every_token_worthless(session: Session) -> None:
    """Rotating GAUNG_SECRET_KEY ends every link and session."""
    link = dashboard_link(session, KEY, subject="admin:5", now=NOW)
    cookie = start_session(session, KEY, subject="admin:5", now=NOW)
    assert exchange_link(session, OTHER_KEY, link, now=NOW) is None
    assert session_subject(session, OTHER_KEY, cookie, now=NOW) is None
    assert not end_session(session, OTHER_KEY, cookie, now=NOW)


@pytest.mark.parametrize("junk", ["", ".", "a.", ".b", "a.b", "é.é", "x" * 200])
def test_garbage_is_refused_without_an_error(session: Session, junk: str) -> None:
    cookie = start_session(session, KEY, subject="admin:1", now=NOW)
    nonce = cookie.split(".")[0]
    for token in (junk, f"{nonce}.{junk}"):
        assert session_subject(session, KEY, token, now=NOW) is None
        assert exchange_link(session, KEY, token, now=NOW) is None


def test_checking_a_session_never_writes(engine: Engine) -> None:
    """GET requests run in read-only transactions (READ ONLY on PostgreSQL)."""
    with session_scope(engine) as session:
        cookie = start_session(session, KEY, subject="admin:1", now=NOW)
    with session_scope(engine, readonly=True) as reader:
        assert session_subject(reader, KEY, cookie, now=NOW) == "admin:1"


def test_a_subject_too_long_is_a_programming_error(session: Session) -> None:
    with pytest.raises(ValueError, match="1 to 32"):
        start_session(session, KEY, subject="x" * 33, now=NOW)


def test_expired_links_and_sessions_can_be_forgotten(session: Session) -> None:
    old = start_session(session, KEY, subject="admin:1", now=NOW - SESSION_TTL - LINK_TTL)
    dashboard_link(session, KEY, subject="admin:1", now=NOW - timedelta(days=1))
    live = start_session(session, KEY, subject="admin:1", now=NOW)
    assert forget_expired(session, before=NOW) == 2
    assert session_subject(session, KEY, live, now=NOW) == "admin:1"
    assert session_subject(session, KEY, old, now=NOW - SESSION_TTL) is None
    assert len(session.exec(select(DashboardSession)).all()) == 1
