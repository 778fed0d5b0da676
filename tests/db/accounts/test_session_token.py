"""Dashboard session cookies: signed, expiring, and never interchangeable with sign-in links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from db.accounts.admins import add_admin
from db.accounts.signing import (
    SESSION_TTL,
    dashboard_token,
    session_token,
    verify_dashboard_token,
    verify_session_token,
)
from db.models import AppSecret

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def test_a_session_names_its_subject_until_it_expires(session: Session) -> None:
    token = session_token(session, subject="apikey:7", now=NOW)
    assert verify_session_token(session, token, now=NOW + SESSION_TTL - timedelta(seconds=1)) == (
        "apikey:7"
    )
    assert verify_session_token(session, token, now=NOW + SESSION_TTL) is None
    subject, expires, mac = token.split(".")
    assert verify_session_token(session, f"apikey:8.{expires}.{mac}", now=NOW) is None
    assert verify_session_token(session, f"{subject}.{int(expires) + 1}.{mac}", now=NOW) is None


def test_links_and_sessions_cannot_stand_in_for_each_other(session: Session) -> None:
    admin, _ = add_admin(session, role="diskominfo", telegram_id=99)
    assert admin.id is not None
    link = dashboard_token(session, admin_id=admin.id, now=NOW)
    assert verify_session_token(session, link, now=NOW) is None
    cookie = session_token(session, subject=str(admin.id), now=NOW, ttl=timedelta(minutes=5))
    assert verify_dashboard_token(session, cookie, now=NOW) is None


@pytest.mark.parametrize("junk", ["", "a.b", "a.b.c.d", "x.12.é", "x.¹².abc", ".5.abc"])
def test_garbage_is_refused_without_an_error(session: Session, junk: str) -> None:
    session_token(session, subject="admin:1", now=NOW)
    assert verify_session_token(session, junk, now=NOW) is None
    assert verify_dashboard_token(session, junk, now=NOW) is None


def test_checking_a_token_never_writes(session: Session) -> None:
    """GET requests run in read-only transactions: with no key yet, nothing is genuine."""
    assert verify_session_token(session, "admin:1.9999999999.abc", now=NOW) is None
    assert verify_dashboard_token(session, "1.9999999999.abc", now=NOW) is None
    assert session.exec(select(AppSecret)).all() == []


def test_a_subject_with_a_dot_is_a_programming_error(session: Session) -> None:
    with pytest.raises(ValueError, match="no dot"):
        session_token(session, subject="admin:1.2", now=NOW)
