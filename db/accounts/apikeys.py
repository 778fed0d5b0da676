"""API keys: shown once, stored as a SHA-256, revocable at once, last use recorded."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlmodel import Session

from db.accounts.admins import check_role
from db.accounts.audit import record
from db.errors import get_or_missing
from db.models import ApiKey, table
from db.roster.opd import opd_by_kode
from db.types import utcnow

KEY_PREFIX = "gaung_"
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling the API: a Diskominfo key (``opd_id`` None) sees every OPD."""

    key_id: int
    role: str
    opd_id: int | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session,
    *,
    role: str,
    opd_kode: str | None = None,
    name: str | None = None,
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """Returns the stored row and the plain key, which is never retrievable again."""
    check_role(role, opd_kode)
    opd_id = opd_by_kode(session, opd_kode).id if opd_kode and role == "opd" else None
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, role=role, opd_id=opd_id, prefix=plain[:12], key_hash=hash_key(plain))
    session.add(key)
    session.flush()
    record(session, actor, "apikey.create", f"apikey:{key.id}", role=role, opd=opd_kode, name=name)
    return key, plain


def identify(session: Session, plain: str) -> tuple[Principal, datetime | None] | None:
    """The key's principal and when it was last used, or None for an unknown or revoked key.

    Only reads, so that an API request on a read-only session can call it.
    """
    found = session.connection().execute(_BY_HASH, {"key_hash": hash_key(plain)}).first()
    if found is None or found.revoked_at is not None:
        return None
    return Principal(key_id=found.id, role=found.role, opd_id=found.opd_id), found.last_used_at


# ``identify`` runs on every API request: plain columns from a statement built once, not an
# ORM object from a statement built anew (issue 11).
_KEY = table(ApiKey)
_BY_HASH = select(
    _KEY.c.id, _KEY.c.role, _KEY.c.opd_id, _KEY.c.revoked_at, _KEY.c.last_used_at
).where(_KEY.c.key_hash == bindparam("key_hash"))


def last_used_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether ``last_used_at`` is stale enough to be written again."""
    return last_used_at is None or now - last_used_at >= LAST_USED_GRANULARITY


def record_use(session: Session, key_id: int, now: datetime | None = None) -> bool:
    """Set the key's ``last_used_at`` unless it was set less than a minute ago.

    Writing on every request would make every read a write (on SQLite, serialised behind the
    one write lock); to the minute is all an operator needs to see which keys are alive. One
    conditional UPDATE, so that processes racing at the minute's turn write once, not each.
    Returns whether it wrote.
    """
    now = now or utcnow()
    key = table(ApiKey)
    result = session.connection().execute(
        update(key)
        .where(
            key.c.id == key_id,
            or_(key.c.last_used_at.is_(None), key.c.last_used_at <= now - LAST_USED_GRANULARITY),
        )
        .values(last_used_at=now)
    )
    return bool(result.rowcount)


def authenticate(session: Session, plain: str) -> Principal | None:
    """The key's principal, or None for an unknown or revoked key; records the use."""
    found = identify(session, plain)
    if found is None:
        return None
    principal, last_used_at = found
    if last_used_due(last_used_at, utcnow()):
        record_use(session, principal.key_id)
    return principal


class LastUseThrottle:
    """In one process, lets one request a minute per key through to ``record_use``.

    Without it every request that reads a stale ``last_used_at`` in the same instant (200 at
    the turn of each minute under load) would queue for the write; with it one does, and the
    rest stay pure reads. Thread-safe: FastAPI runs dependencies in a thread pool.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed: dict[int, datetime] = {}

    def claim(self, key_id: int, last_used_at: datetime | None, now: datetime) -> bool:
        if not last_used_due(last_used_at, now):
            return False
        with self._lock:
            if not last_used_due(self._claimed.get(key_id), now):
                return False
            self._claimed[key_id] = now
            return True


def revoke_api_key(session: Session, key_id: int, *, actor: str = "cli") -> ApiKey:
    key = get_or_missing(session, ApiKey, key_id, "kunci API")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        record(session, actor, "apikey.revoke", f"apikey:{key_id}")
    session.flush()
    return key
