"""Short-lived signed sign-in links for the dashboard, sent by the bot's ``/dashboard`` command.

The signing key lives in the database (``app_secret``) rather than in a setting so that every
``gaung serve`` and ``gaung bot`` process sharing the database agrees on it without another
secret for operators to manage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from db.models import Admin, AppSecret

SECRET_NAME = "dashboard-link"
LINK_TTL = timedelta(minutes=15)


def _key(session: Session) -> bytes:
    row = session.get(AppSecret, SECRET_NAME)
    if row is None:
        try:
            with session.begin_nested():
                row = AppSecret(name=SECRET_NAME, value=secrets.token_hex(32))
                session.add(row)
        except IntegrityError:  # another process made it first: use theirs
            row = session.get(AppSecret, SECRET_NAME, populate_existing=True)
            assert row is not None
    return bytes.fromhex(row.value)


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def dashboard_token(
    session: Session, *, admin_id: int, now: datetime, ttl: timedelta = LINK_TTL
) -> str:
    """A token naming the admin and its expiry; only the key's holder can make one."""
    expires = int((now + ttl).timestamp())
    payload = f"{admin_id}.{expires}"
    return f"{payload}.{_mac(_key(session), payload)}"


def verify_dashboard_token(session: Session, token: str, *, now: datetime) -> int | None:
    """The admin id if the token is genuine, unexpired and the admin still exists, else None."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_mac(_key(session), payload), parts[2]):
        return None
    if int(parts[1]) <= now.timestamp():
        return None
    admin_id = int(parts[0])
    admin = session.get(Admin, admin_id)
    if admin is None or not admin.active:
        return None
    return admin_id
