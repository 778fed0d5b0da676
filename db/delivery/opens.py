"""Tracked opens: each delivery's "open the post" button goes through ``/r/<code>``.

The code is computed from the delivery's id and a key kept in ``app_secret``, not stored:
minting 8,000 codes when a post is approved would slow the approval down, and a code made
while the message is rendered would be a write per send. It is a small deterministic
authenticated encryption (SIV-style): an 80-bit HMAC tag of the id, then the id XORed with a
pad derived from the tag. So the code is unguessable (forging one means guessing an 80-bit
tag), carries no personal data and not even the delivery's number, and any process holding the
key can read it back without a table lookup. An open is the measured counterpart of the
self-reported like/share: "opened" counts deliveries whose link was opened at least once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from db.delivery.counters import bump
from db.models import AppSecret, Delivery, DeliveryStatus, Post, table
from db.types import utcnow

SECRET_NAME = "open-link"
TAG_BYTES = 10  # 80 bits: far beyond guessing at any rate a web server answers
MAX_ID_BYTES = 8


def open_key(session: Session) -> bytes:
    """The key for open codes, made on first use and shared by every process."""
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


def existing_open_key(session: Session) -> bytes | None:
    """Read-only: with no key yet, no code can be genuine."""
    row = session.get(AppSecret, SECRET_NAME)
    return bytes.fromhex(row.value) if row is not None else None


def _prf(key: bytes, label: bytes, data: bytes) -> bytes:
    return hmac.new(key, label + data, hashlib.sha256).digest()


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=False))


def open_code(key: bytes, delivery_id: int) -> str:
    """The short code of a delivery's link: 16 characters for ids below 65,536, 18 below 16.7
    million."""
    if delivery_id < 0:
        raise ValueError("delivery id must not be negative")
    plain = delivery_id.to_bytes(MAX_ID_BYTES, "big").lstrip(b"\0") or b"\0"
    tag = _prf(key, b"tag:", plain)[:TAG_BYTES]
    sealed = _xor(plain, _prf(key, b"pad:", tag))
    return base64.urlsafe_b64encode(tag + sealed).decode().rstrip("=")


def delivery_of_code(key: bytes, code: str) -> int | None:
    """The delivery a code was made for, or None for anything not made with this key."""
    if not code.isascii() or not 2 <= len(code) <= 32:
        return None
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (binascii.Error, ValueError):
        return None
    if not TAG_BYTES < len(raw) <= TAG_BYTES + MAX_ID_BYTES:
        return None
    # One code per delivery: base64's unused low bits in the last character must be as we
    # wrote them, or two spellings would name the same delivery.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != code:
        return None
    tag, sealed = raw[:TAG_BYTES], raw[TAG_BYTES:]
    plain = _xor(sealed, _prf(key, b"pad:", tag))
    if not hmac.compare_digest(_prf(key, b"tag:", plain)[:TAG_BYTES], tag):
        return None
    return int.from_bytes(plain, "big")


@dataclass(frozen=True)
class Opened:
    delivery_id: int
    post_url: str
    first: bool  # this request was the delivery's first open


def record_open(session: Session, code: str, *, now: datetime | None = None) -> Opened | None:
    """Resolve a code and record the first open; None when the code names no delivery.

    One conditional UPDATE decides "first": two simultaneous opens of the same link (a double
    tap) cannot both count, and the counter moves in the same transaction as the fact.
    """
    key = existing_open_key(session)
    delivery_id = delivery_of_code(key, code) if key is not None else None
    if delivery_id is None:
        return None
    delivery, post = table(Delivery), table(Post)
    conn = session.connection()
    found = conn.execute(
        select(post.c.url)
        .select_from(delivery)
        .join(post, post.c.id == delivery.c.post_id)
        .where(delivery.c.id == delivery_id)
    ).first()
    if found is None:  # the post was deleted with its deliveries
        return None
    first = conn.execute(
        update(delivery)
        .where(delivery.c.id == delivery_id, delivery.c.opened_at.is_(None))
        .values(opened_at=now or utcnow())
        .returning(delivery.c.post_id, delivery.c.opd_id, delivery.c.status)
    ).first()
    if first is not None and first.status == DeliveryStatus.SENT:
        bump(session, {(first.post_id, first.opd_id): {"opened": 1}})
    return Opened(delivery_id, str(found.url), first is not None)
