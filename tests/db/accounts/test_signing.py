"""Dashboard sign-in links: only genuine, unexpired links of active admins open the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from db.accounts.admins import add_admin
from db.accounts.signing import dashboard_token, verify_dashboard_token
from db.engine import session_scope

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def _admin(session: Session) -> int:
    admin, _ = add_admin(session, role="diskominfo", telegram_id=4242, name="Staf")
    session.flush()
    assert admin.id is not None
    return admin.id


def test_a_fresh_link_names_its_admin(session: Session) -> None:
    admin_id = _admin(session)
    token = dashboard_token(session, admin_id=admin_id, now=NOW)
    assert verify_dashboard_token(session, token, now=NOW + timedelta(minutes=14)) == admin_id


def test_expired_forged_and_garbled_links_are_refused(session: Session) -> None:
    admin_id = _admin(session)
    token = dashboard_token(session, admin_id=admin_id, now=NOW)
    assert verify_dashboard_token(session, token, now=NOW + timedelta(minutes=15)) is None
    ident, expires, mac = token.split(".")
    forged = f"{int(ident) + 1}.{expires}.{mac}"
    assert verify_dashboard_token(session, forged, now=NOW) is None
    longer = f"{ident}.{int(expires) + 3600}.{mac}"
    assert verify_dashboard_token(session, longer, now=NOW) is None
    for junk in ("", "abc", "1.2", "x.y.z", token + "A"):
        assert verify_dashboard_token(session, junk, now=NOW) is None


def test_a_deactivated_admin_cannot_sign_in(session: Session) -> None:
    admin_id = _admin(session)
    token = dashboard_token(session, admin_id=admin_id, now=NOW)
    from db.models import Admin

    admin = session.get(Admin, admin_id)
    assert admin is not None
    admin.active = False
    session.flush()
    assert verify_dashboard_token(session, token, now=NOW) is None


def test_every_process_shares_one_key(engine: Engine) -> None:
    with session_scope(engine) as session:
        admin_id = _admin(session)
        token = dashboard_token(session, admin_id=admin_id, now=NOW)
    with session_scope(engine) as other:
        assert verify_dashboard_token(other, token, now=NOW) == admin_id
