"""API keys: shown once, stored as a SHA-256, revocable at once, last use recorded."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from db.admins import check_role
from db.audit import record
from db.errors import NotFound
from db.models import ApiKey
from db.opd import opd_by_kode
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


def authenticate(session: Session, plain: str) -> Principal | None:
    """The key's principal, or None for an unknown or revoked key."""
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(plain))).first()
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    # Writing on every request would serialise readers on SQLite; a minute is precise enough.
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        key.last_used_at = now
        session.add(key)
        session.flush()
    assert key.id is not None
    return Principal(key_id=key.id, role=key.role, opd_id=key.opd_id)


def revoke_api_key(session: Session, key_id: int, *, actor: str = "cli") -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"kunci API #{key_id} tidak ada")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        record(session, actor, "apikey.revoke", f"apikey:{key_id}")
    session.flush()
    return key
