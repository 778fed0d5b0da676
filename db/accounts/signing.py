"""Dashboard credentials kept server-side: single-use sign-in links and revocable sessions.

The bot's ``/dashboard`` command makes a **link** for an admin (15 minutes, one use); the
dashboard exchanges it, by a POST, for a **session** (12 hours, or until signing out). A key
signed in on the dashboard's form gets a session directly. Both are rows of
``dashboard_session``:

- a link is spent by the first exchange (a conditional UPDATE, so two racing exchanges
  cannot both win), and a link preview fetching the URL spends nothing, because opening the
  page does not exchange it;
- signing out ends the session's row at once; revoking a key or deactivating an admin ends
  every session of theirs at once too, because the dashboard looks the subject up again on
  every request (``db.reporting.dashboard.viewer_for``).

A token is ``<nonce>.<mac>``: 32 random bytes and an HMAC of them under ``GAUNG_SECRET_KEY``,
with the kind mixed in so a link can never pass as a session. The database keeps only a
SHA-256 of the token and never the key, so a copy of the database (a backup) can neither
mint tokens nor use the ones it lists. Changing the key ends every link and session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, update
from sqlmodel import Session, select

from db.models import DashboardSession, table

LINK, SESSION = "link", "session"
LINK_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
TOKENS = table(DashboardSession)


def _mac(key: bytes, kind: str, nonce: str) -> str:
    digest = hmac.new(key, f"{kind}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _naming(key: bytes, kind: str, token: str) -> list[ColumnElement[bool]] | None:
    """The conditions that pick ``token``'s row, or None when it was not signed with ``key``
    for ``kind``: checked before any query, so made-up tokens cost no database work."""
    nonce, dot, mac = token.partition(".")
    if not dot or not nonce or not mac or not token.isascii():
        return None
    # Bytes, because compare_digest refuses non-ASCII strings, and tokens come from outside.
    if not hmac.compare_digest(_mac(key, kind, nonce).encode(), mac.encode()):
        return None
    return [TOKENS.c.token_hash == _hash(token), TOKENS.c.kind == kind]


def _issue(
    session: Session, key: bytes, kind: str, *, subject: str, now: datetime, ttl: timedelta
) -> str:
    if not subject or len(subject) > 32:
        raise ValueError(f"subject {subject!r} must be 1 to 32 characters")
    nonce = secrets.token_urlsafe(32)
    token = f"{nonce}.{_mac(key, kind, nonce)}"
    session.add(
        DashboardSession(
            kind=kind,
            token_hash=_hash(token),
            subject=subject,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return token


def dashboard_link(
    session: Session, key: bytes, *, subject: str, now: datetime, ttl: timedelta = LINK_TTL
) -> str:
    """A sign-in link's token for ``subject`` (``admin:5``): it works once, within ``ttl``."""
    return _issue(session, key, LINK, subject=subject, now=now, ttl=ttl)


def start_session(
    session: Session, key: bytes, *, subject: str, now: datetime, ttl: timedelta = SESSION_TTL
) -> str:
    """The dashboard cookie's value for a sign-in of ``subject`` (``apikey:3``, ``admin:5``)."""
    return _issue(session, key, SESSION, subject=subject, now=now, ttl=ttl)


def exchange_link(session: Session, key: bytes, token: str, *, now: datetime) -> str | None:
    """Spend a sign-in link: its subject, or None when it is not genuine, expired or spent."""
    naming = _naming(key, LINK, token)
    if naming is None:
        return None
    live = (TOKENS.c.used_at.is_(None), TOKENS.c.expires_at > now)
    spent = session.connection().execute(update(TOKENS).where(*naming, *live).values(used_at=now))
    if spent.rowcount != 1:
        return None
    subject: str = (
        session.connection().execute(select(TOKENS.c.subject).where(*naming)).scalar_one()
    )
    return subject


def session_subject(session: Session, key: bytes, token: str, *, now: datetime) -> str | None:
    """Who a live session is for, or None. Only reads, so a GET's read-only session can ask."""
    naming = _naming(key, SESSION, token)
    if naming is None:
        return None
    live = (TOKENS.c.ended_at.is_(None), TOKENS.c.expires_at > now)
    found = session.connection().execute(select(TOKENS.c.subject).where(*naming, *live)).first()
    return None if found is None else str(found.subject)


def end_session(session: Session, key: bytes, token: str, *, now: datetime) -> bool:
    """Sign out: the session stops working now, on every server. Returns whether one ended."""
    naming = _naming(key, SESSION, token)
    if naming is None:
        return False
    live = TOKENS.c.ended_at.is_(None)
    ended = session.connection().execute(update(TOKENS).where(*naming, live).values(ended_at=now))
    return bool(ended.rowcount)


def forget_expired(session: Session, *, before: datetime) -> int:
    """Delete links and sessions that expired before ``before`` (spent or not): for the
    worker's retention round, so the table holds only what can still be used. Returns how many.
    """
    gone = session.connection().execute(delete(TOKENS).where(TOKENS.c.expires_at < before))
    return int(gone.rowcount)
