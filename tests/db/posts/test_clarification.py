"""Issue 15: clarification first (claim order, sooner reminder, reach recap once) and the
reminder caps (one per post per ASN, a weekly cap per ASN, never in quiet hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.delivery.outbox import Outcome, claim_due, record_outcomes
from db.delivery.reminders import claim_reminders
from db.engine import session_scope
from db.errors import Conflict
from db.models import Asn, Delivery, Post
from db.posts.clarification import claim_reach_recaps, mark_clarification
from db.posts.lifecycle import approve_post, submit_post
from tests.db.racing import race
from tests.factories import add_asn, register

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 WIB
LEASE = timedelta(seconds=30)
DELAY = timedelta(hours=6)
SOON = timedelta(hours=1)


def people(session: Session, n: int) -> list[Asn]:
    asns = [add_asn(session, opd="DINKES") for _ in range(n)]
    for asn in asns:
        register(session, asn)
    return asns


def post(session: Session, slug: str, *, at: datetime = NOW) -> int:
    p = submit_post(session, opd_kode="DINKES", url=f"https://instagram.com/p/{slug}")
    assert p.id is not None
    approve_post(session, p.id, now=at)
    session.commit()
    return p.id


def send_all(session: Session, *, at: datetime) -> list[int]:
    claimed = claim_due(session, worker="w", limit=1000, now=at, lease=LEASE)
    record_outcomes(session, [Outcome(c.id, "sent", message_id="m") for c in claimed], now=at)
    session.commit()
    return [c.id for c in claimed]


def remind(session: Session, at: datetime, **caps: object) -> list[int]:
    got = claim_reminders(
        session,
        now=at,
        delay=DELAY,
        limit=100,
        channels=["telegram"],
        **caps,  # type: ignore[arg-type]
    )
    session.commit()
    return sorted(c.id for c in got)


def test_only_a_post_being_sent_can_be_a_clarification_and_marking_twice_is_harmless(
    session: Session,
) -> None:
    people(session, 1)
    submitted = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/draft")
    assert submitted.id is not None
    with pytest.raises(Conflict, match="klarifikasi"):
        mark_clarification(session, submitted.id)
    approved = post(session, "ok")
    first, new = mark_clarification(session, approved, now=NOW)
    again, new_again = mark_clarification(session, approved, now=NOW + SOON)
    assert new and not new_again
    assert first.clarification_at == again.clarification_at == NOW


def test_a_clarification_is_claimed_before_an_older_posts_queue(session: Session) -> None:
    people(session, 6)
    older = post(session, "old", at=NOW - timedelta(minutes=10))
    clarification = post(session, "clarify", at=NOW)
    mark_clarification(session, clarification, now=NOW)
    session.commit()
    first = claim_due(session, worker="a", limit=4, now=NOW, lease=LEASE)
    # All six of the clarification's rows, although the older post's rows are due earlier.
    assert [c.post_id for c in first] == [clarification] * 4
    second = claim_due(session, worker="b", limit=4, now=NOW, lease=LEASE)
    assert [c.post_id for c in second] == [clarification] * 2 + [older] * 2
    # A worker sending one post only still gets only that post.
    third = claim_due(session, worker="c", limit=10, now=NOW, lease=LEASE, post_id=older)
    assert {c.post_id for c in third} == {older} and len(third) == 4


def test_a_clarification_reminds_sooner(session: Session) -> None:
    people(session, 2)
    normal = post(session, "normal")
    clarification = post(session, "clarify2")
    mark_clarification(session, clarification, now=NOW)
    session.commit()
    send_all(session, at=NOW)
    rows = {d.id: d.post_id for d in session.exec(select(Delivery))}
    assert remind(session, NOW + SOON / 2, clarification_delay=SOON) == []
    soon = remind(session, NOW + SOON, clarification_delay=SOON)
    assert {rows[d] for d in soon} == {clarification} and len(soon) == 2
    late = remind(session, NOW + DELAY, clarification_delay=SOON)
    assert {rows[d] for d in late} == {normal} and len(late) == 2


def test_weekly_cap_per_asn_counts_every_reminder_in_a_rolling_week(session: Session) -> None:
    (asn,) = people(session, 1)
    posts = [post(session, f"w{i}") for i in range(4)]
    send_all(session, at=NOW)
    # Four unconfirmed posts due at once: only three reminders, even within one batch.
    assert len(remind(session, NOW + DELAY, per_week=3)) == 3
    later = NOW + timedelta(days=3)
    posts += [post(session, f"w{i}", at=later) for i in range(4, 6)]
    send_all(session, at=later)
    assert remind(session, later + DELAY, per_week=3) == []  # the week is spent
    # Seven days after the first three the week frees up: the two later posts (four days
    # old) get theirs; the one held back since the first day is stale by now.
    week_on = NOW + DELAY + timedelta(days=7, seconds=1)
    assert len(remind(session, week_on, per_week=3)) == 2
    reminded = session.exec(
        select(Delivery.post_id).where(
            Delivery.asn_id == asn.id,
            Delivery.reminded_at.is_not(None),  # type: ignore[union-attr]
        )
    ).all()
    assert len(reminded) == len(set(reminded)) == 5  # never two for one post
    assert set(posts) - set(reminded) == {posts[3]}


def test_no_reminder_for_a_delivery_sent_a_week_ago(session: Session) -> None:
    people(session, 1)
    post(session, "stale")
    send_all(session, at=NOW)
    assert remind(session, NOW + timedelta(days=7)) == []
    assert len(remind(session, NOW + timedelta(days=7) - timedelta(seconds=1))) == 1


def test_a_cap_of_zero_sends_no_reminder(session: Session) -> None:
    people(session, 1)
    post(session, "zero")
    send_all(session, at=NOW)
    assert remind(session, NOW + DELAY, per_week=0) == []


def test_the_weekly_cap_holds_when_two_workers_race(engine: Engine) -> None:
    """Two threads claim reminders for the same people at once; each person still gets at
    most the cap (PostgreSQL locks the ASN rows before counting their week)."""
    with session_scope(engine) as session:
        asns = people(session, 3)
        for i in range(4):
            post(session, f"race{i}")
        send_all(session, at=NOW)

    def claim(_: int) -> list[int]:
        got: list[int] = []
        while True:
            with session_scope(engine) as session:
                some = claim_reminders(
                    session,
                    now=NOW + DELAY,
                    delay=DELAY,
                    limit=2,
                    channels=["telegram"],
                    per_week=2,
                )
            if not some:
                return got
            got.extend(c.id for c in some)

    first, second = race(2, claim)
    with session_scope(engine) as session:
        owners = {d.id: d.asn_id for d in session.exec(select(Delivery))}
    every = first + second
    assert len(every) == len(set(every)) == 2 * len(asns)
    for asn in asns:
        assert sum(owners[d] == asn.id for d in every) == 2


def test_reach_recap_is_claimed_once_an_hour_after_approval(engine: Engine) -> None:
    with session_scope(engine) as session:
        people(session, 1)
        clarification = post(session, "recap")
        plain = post(session, "plain")
        mark_clarification(session, clarification, now=NOW)
    with session_scope(engine) as session:
        assert claim_reach_recaps(session, now=NOW + SOON - timedelta(seconds=1)) == []

    def claim(_: int) -> list[int]:
        with session_scope(engine) as session:
            return claim_reach_recaps(session, now=NOW + SOON)

    assert sorted(p for ids in race(4, claim) for p in ids) == [clarification]
    with session_scope(engine) as session:
        assert claim_reach_recaps(session, now=NOW + 2 * SOON) == []
        row = session.get(Post, clarification)
        assert row is not None and row.reach_recap_at == NOW + SOON
        assert session.get(Post, plain).reach_recap_at is None  # type: ignore[union-attr]
