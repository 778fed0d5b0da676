from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select
from sqlmodel import Session

from db.accounts.identities import mark_unreachable
from db.delivery.confirmations import Tap, TapOutcome, record_taps
from db.delivery.counters import rebuild
from db.delivery.outbox import Outcome, mark_sent, record_outcomes
from db.delivery.redraws import claim_redraws, finish_redraws, queued_redraws, redraws_due
from db.engine import session_scope
from db.models import ChatIdentity, Confirmation, Delivery, DeliveryStatus, Post, PostOpdStat
from db.posts.lifecycle import approve_post, cancel_post, submit_post
from db.types import utcnow
from tests.db.racing import race
from tests.factories import add_asn, delivery_of, register

R, A, X, C = TapOutcome.RECORDED, TapOutcome.ALREADY, TapOutcome.REFUSED, TapOutcome.CANCELLED


def counters(session: Session) -> list[tuple[int, int, int, int, int]]:
    return sorted(
        (s.opd_id, s.delivered, s.liked, s.shared, s.participated)
        for s in session.exec(select(PostOpdStat)).scalars()  # type: ignore[call-overload]
    )


def regency(session: Session, people: int = 3, *, send: int = 2) -> tuple[Post, list[Delivery]]:
    """A post to ``people`` registered ASN of DINKES, the first ``send`` of them sent."""
    asn = [add_asn(session) for _ in range(people)]
    for person in asn:
        register(session, person)
    post, _ = approve_post(
        session, submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/t").id or 0
    )
    assert post.id is not None
    deliveries = [delivery_of(session, post.id, person) for person in asn]
    for delivery in deliveries[:send]:
        mark_sent(session, delivery, "7")
    session.commit()
    return post, deliveries


def user_of(session: Session, delivery: Delivery) -> str:
    identity = session.get(ChatIdentity, delivery.identity_id)
    assert identity is not None
    return identity.external_id


def test_a_batch_records_each_tap_once_from_its_recipient_only(session: Session) -> None:
    _, (d1, d2, unsent) = regency(session)
    assert d1.id and d2.id and unsent.id
    u1, u3 = user_of(session, d1), user_of(session, unsent)
    results = record_taps(
        session,
        "telegram",
        [
            Tap(d1.id, "like", u1),
            Tap(d1.id, "share", u1),  # both kinds in one batch: one person, counted once
            Tap(d1.id, "like", u1),  # the same tap twice in one batch
            Tap(d2.id, "like", u1),  # someone else's button
            Tap(unsent.id, "like", u3),  # not sent (yet): nothing to confirm
            Tap(10**9, "share", u1),  # no such delivery
        ],
    )
    session.commit()
    assert [r.outcome for r in results] == [R, R, A, X, X, X]
    assert results[0].confirmed == results[1].confirmed == {"like", "share"}
    assert results[3].confirmed == frozenset()
    assert counters(session) == [(d1.opd_id, 2, 1, 1, 1)]

    again = record_taps(session, "telegram", [Tap(d1.id, "share", u1), Tap(d2.id, "share", u1)])
    assert [r.outcome for r in again] == [A, X]
    # The same account id on another channel is another person.
    assert (
        record_taps(session, "whatsapp", [Tap(d2.id, "like", user_of(session, d2))])[0].outcome == X
    )
    session.commit()
    kinds = sorted((c.delivery_id, c.kind) for c in session.exec(select(Confirmation)).scalars())  # type: ignore[call-overload]
    assert kinds == [(d1.id, "like"), (d1.id, "share")]
    before = counters(session)
    rebuild(session)
    assert counters(session) == before  # the counters moved exactly as the facts


def test_a_cancelled_post_refuses_taps_and_a_tap_marks_the_person_reachable(
    session: Session,
) -> None:
    post, (d1, d2, _) = regency(session)
    assert post.id and d1.id and d2.id
    identity = session.get(ChatIdentity, d1.identity_id)
    assert identity is not None
    mark_unreachable(session, identity, "Forbidden: bot was blocked by the user")
    session.commit()
    [tapped] = record_taps(session, "telegram", [Tap(d1.id, "like", user_of(session, d1))])
    session.commit()
    session.refresh(identity)
    assert tapped.outcome == R and identity.reachable and identity.last_inbound_at is not None

    cancel_post(session, post.id)
    session.commit()
    [late] = record_taps(session, "telegram", [Tap(d2.id, "like", user_of(session, d2))])
    assert late.outcome == C and late.confirmed == frozenset()


def test_a_redraw_is_queued_once_and_kept_when_tapped_again_after_its_claim(
    session: Session,
) -> None:
    _, (d1, d2, _) = regency(session)
    assert d1.id and d2.id
    u1, u2 = user_of(session, d1), user_of(session, d2)
    record_taps(session, "telegram", [Tap(d1.id, "like", u1)] * 3, redraw=True)
    record_taps(session, "telegram", [Tap(d2.id, "like", u2)], redraw=False)
    session.commit()
    assert queued_redraws(session) == 1

    now = utcnow()
    assert redraws_due(session, "telegram", now=now)
    assert not redraws_due(session, "whatsapp", now=now)
    [first] = claim_redraws(session, "telegram", now=now)
    assert (first.delivery_id, first.confirmed, first.message_id) == (d1.id, {"like"}, "7")
    assert first.chat_id == session.get(ChatIdentity, d1.identity_id).chat_id  # type: ignore[union-attr]
    assert claim_redraws(session, "telegram", now=now) == []  # leased
    assert not redraws_due(session, "telegram", now=now)
    assert claim_redraws(session, "whatsapp", now=now + timedelta(hours=1)) == []
    # Tapped again while the first drawing is under way: that drawing is out of date.
    record_taps(session, "telegram", [Tap(d1.id, "share", u1)], redraw=True)
    finish_redraws(session, [first])
    session.commit()
    assert queued_redraws(session) == 1
    [second] = claim_redraws(session, "telegram", now=now)
    assert second.confirmed == {"like", "share"} and second.version > first.version
    # A sender that died: its lease runs out and another takes the row.
    [third] = claim_redraws(session, "telegram", now=now + timedelta(minutes=5))
    assert third.delivery_id == d1.id
    finish_redraws(session, [third])
    session.commit()
    assert queued_redraws(session) == 0
    # Repeats change nothing, so they draw nothing.
    record_taps(session, "telegram", [Tap(d1.id, "like", u1)], redraw=True)
    assert queued_redraws(session) == 0


def test_like_and_share_at_once_in_two_transactions_count_the_person_once(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        _, deliveries = regency(session, people=12, send=12)
        taps = [(d.id or 0, user_of(session, d)) for d in deliveries]
    kinds = ("like", "share")

    def tap(i: int) -> None:
        for delivery_id, user in taps:
            with session_scope(engine) as s:
                record_taps(s, "telegram", [Tap(delivery_id, kinds[i], user)], redraw=True)

    race(len(kinds), tap)
    with session_scope(engine) as session:
        [(_, delivered, liked, shared, participated)] = counters(session)
        assert (delivered, liked, shared, participated) == (12, 12, 12, 12)
        assert queued_redraws(session) == 12


def test_a_tap_that_beats_the_record_of_its_send_counts_once_the_send_is_recorded(
    session: Session,
) -> None:
    """The channel accepted the message and the person tapped it before the worker wrote
    ``sent``: the tap is theirs; it counts with the delivery, and its ✅ waits for the message
    id. Once through ``mark_sent``, once through the worker's batch."""
    _, (early, batched, _) = regency(session, send=0)
    assert early.id and batched.id
    for delivery in (early, batched):
        delivery.status = DeliveryStatus.SENDING  # claimed; the send is on the wire
        session.add(delivery)
    session.commit()
    taps = [
        Tap(early.id, "like", user_of(session, early)),
        Tap(batched.id, "share", user_of(session, batched)),
    ]
    results = record_taps(session, "telegram", taps, redraw=True)
    session.commit()
    assert [r.outcome for r in results] == [R, R]
    assert counters(session) == []  # nothing delivered yet, so nothing confirmed yet
    assert not redraws_due(session, "telegram")  # no message id to edit yet

    mark_sent(session, early, "11")
    record_outcomes(
        session, [Outcome(batched.id, "sent", message_id="12")], now=utcnow(), worker="w"
    )
    session.commit()
    assert counters(session) == [(early.opd_id, 2, 1, 1, 2)]
    assert redraws_due(session, "telegram")
    before = counters(session)
    rebuild(session)
    assert counters(session) == before
