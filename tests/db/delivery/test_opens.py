"""Open codes and recording opens: unguessable codes, first open counted once, counters kept."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from db.delivery.confirmations import confirm
from db.delivery.counters import rebuild
from db.delivery.opens import delivery_of_code, open_code, open_key, record_open
from db.delivery.outbox import mark_failed, mark_sent
from db.models import Delivery, PostOpdStat
from db.posts.lifecycle import approve_post, submit_post
from db.reporting.participation import participation
from db.reporting.window import Window
from tests.factories import add_asn, delivery_of, register

NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
WINDOW = Window(NOV - timedelta(days=1), NOV + timedelta(days=1))


def test_codes_round_trip_and_reveal_nothing() -> None:
    key = secrets.token_bytes(32)
    for delivery_id in (0, 1, 255, 256, 8000, 2**31 - 1, 2**63 - 1):
        code = open_code(key, delivery_id)
        assert delivery_of_code(key, code) == delivery_id
        assert code.isascii() and all(c.isalnum() or c in "-_" for c in code)
    assert len(open_code(key, 8000)) == 16 and len(open_code(key, 10**6)) == 18
    # Consecutive deliveries get unrelated codes.
    a, b = open_code(key, 1000), open_code(key, 1001)
    assert sum(x == y for x, y in zip(a, b, strict=True)) < 6


def test_forged_malformed_and_foreign_codes_name_no_delivery() -> None:
    key, other = secrets.token_bytes(32), secrets.token_bytes(32)
    code = open_code(key, 42)
    assert delivery_of_code(other, code) is None
    for last in "ABCD":  # another last character, down to base64's unused low bits
        if last != code[-1]:
            assert delivery_of_code(key, code[:-1] + last) is None
    for junk in ("", "x", "42", "é" * 18, "a" * 200, "!!!!", code + code, "====" * 5):
        assert delivery_of_code(key, junk) is None


def _sent_post(session: Session) -> tuple[int, list[Delivery]]:
    people = [add_asn(session, opd="DINKES") for _ in range(3)]
    for who in people:
        register(session, who)
    post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/buka")
    assert post.id is not None
    approve_post(session, post.id, now=NOV)
    deliveries = [delivery_of(session, post.id, who) for who in people]
    for d in deliveries:
        mark_sent(session, d, "1")
    return post.id, deliveries


def _stat(session: Session, post_id: int) -> tuple[int, int, int]:
    stat = session.exec(select(PostOpdStat).where(PostOpdStat.post_id == post_id)).one()
    session.refresh(stat)
    return stat.delivered, stat.liked, stat.opened


def test_first_open_is_recorded_once_and_counted_beside_the_claims(session: Session) -> None:
    post_id, (a, b, c) = _sent_post(session)
    key = open_key(session)
    assert open_key(session) == key  # made once, then reused
    assert a.id and b.id and c.id
    first = record_open(session, open_code(key, a.id), now=NOV + timedelta(minutes=5))
    assert first is not None
    assert (first.delivery_id, first.post_url, first.first) == (
        a.id,
        "https://instagram.com/p/buka",
        True,
    )
    again = record_open(session, open_code(key, a.id), now=NOV + timedelta(minutes=9))
    assert again is not None and again.first is False
    session.refresh(a)
    assert a.opened_at == NOV + timedelta(minutes=5)
    # b claims a like without ever opening: exactly what Diskominfo wants to see.
    confirm(session, b, "like")
    assert _stat(session, post_id) == (3, 1, 1)
    assert record_open(session, "tidak-ada") is None
    assert record_open(session, open_code(key, 10**9)) is None  # genuine code, no such delivery

    row = {r.kode: r.counts for r in participation(session, WINDOW).rows}["DINKES"]
    assert (row.delivered, row.opened, row.liked, row.participated) == (3, 1, 1, 1)
    assert participation(session, None, post_id=post_id).total.opened == 1

    # A send reported failed later takes its open with it, as the facts do; a rebuild agrees.
    mark_failed(session, a, "131047 later")
    assert _stat(session, post_id) == (2, 1, 0)
    rebuild(session)
    assert _stat(session, post_id) == (2, 1, 0)
