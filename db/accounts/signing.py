"""Signed dashboard credentials: short-lived sign-in links sent by the bot's ``/dashboard``
command, and the longer-lived session cookie the dashboard sets after a sign-in.

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


def _genuine(session: Session, signed: str, mac: str) -> bool:
    """Only reads, so a GET on a read-only session can check a token: with no key yet, no
    token can be genuine, and none is made."""
    row = session.get(AppSecret, SECRET_NAME)
    if row is None:
        return False
    # Bytes, because compare_digest refuses non-ASCII strings, and tokens come from outside.
    return hmac.compare_digest(_mac(bytes.fromhex(row.value), signed).encode(), mac.encode())


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()


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
    if len(parts) != 3 or not _number(parts[0]) or not _number(parts[1]):
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not _genuine(session, payload, parts[2]):
        return None
    if int(parts[1]) <= now.timestamp():
        return None
    admin_id = int(parts[0])
    admin = session.get(Admin, admin_id)
    if admin is None or not admin.active:
        return None
    return admin_id


SESSION_TTL = timedelta(hours=12)
# Signed under a distinct prefix, so that a sign-in link can never pass as a session cookie.
_SESSION = "sesi"


def session_token(
    session: Session, *, subject: str, now: datetime, ttl: timedelta = SESSION_TTL
) -> str:
    """The dashboard's cookie value: who signed in (``apikey:3``, ``admin:5``) and until when.

    It names the key or admin rather than holding the key itself, so a leaked cookie never
    reveals an API key and dies with the key's revocation or the admin's deactivation.
    """
    if not subject or "." in subject:
        raise ValueError(f"subject {subject!r} must be non-empty and contain no dot")
    payload = f"{subject}.{int((now + ttl).timestamp())}"
    return f"{payload}.{_mac(_key(session), f'{_SESSION}.{payload}')}"


def verify_session_token(session: Session, token: str, *, now: datetime) -> str | None:
    """The subject if the token is genuine and unexpired; the caller checks it still exists."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0] or not _number(parts[1]):
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not _genuine(session, f"{_SESSION}.{payload}", parts[2]):
        return None
    if int(parts[1]) <= now.timestamp():
        return None
    return parts[0]
