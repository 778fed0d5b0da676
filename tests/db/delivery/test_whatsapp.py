"""WhatsApp's delivery truth in the database: tier reservations, statuses, cost."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import select

from db.delivery.confirmations import Tap, record_taps
from db.delivery.counters import FIELDS, fact_counts
from db.delivery.opens import open_code, open_key, record_open
from db.delivery.outbox import mark_sent
from db.delivery.whatsapp import (
    StatusUpdate,
    apply_statuses,
    cost_summary,
    reached_today,
    reserve_reach,
    reserve_reach_many,
    store_statuses,
    template_estimate,
)
from db.engine import session_scope
from db.models import ChatIdentity, Delivery, DeliveryStatus, Post, PostOpdStat
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.db.reporting.test_rollup import assert_rollup_holds
from tests.factories import add_asn, register

PRICES = {"marketing": 0.05, "utility": 0.02, "authentication": 0.02}


def setup(engine: Engine, count: int, *, inbound_hours_ago: float | None = None) -> list[int]:
    """``count`` ASN on WhatsApp; returns their identity ids."""
    ids = []
    with session_scope(engine) as session:
        for n in range(count):
            asn = add_asn(session, opd="DINKES", phone=f"08123456{n:04d}")
            identity = register(session, asn, channel="whatsapp", external_id=f"6281234{n:05d}")
            identity.last_inbound_at = (
                None if inbound_hours_ago is None else utcnow() - timedelta(hours=inbound_hours_ago)
            )
            session.add(identity)
            session.flush()
            assert identity.id is not None
            ids.append(identity.id)
    return ids


_posts = itertools.count(1)


def post(engine: Engine, *, approve: bool = True) -> int:
    with session_scope(engine) as session:
        url = f"https://instagram.com/p/t{next(_posts)}"
        row = submit_post(session, opd_kode="DINKES", url=url)
        assert row.id is not None
        if approve:
            approve_post(session, row.id)
        return row.id


def rows(engine: Engine, post_id: int) -> list[Delivery]:
    with session_scope(engine, readonly=True) as session:
        found = list(session.exec(select(Delivery).where(Delivery.post_id == post_id)).all())
        session.expunge_all()
        return sorted(found, key=lambda d: d.id or 0)


def test_tier_admits_unique_recipients_up_to_the_cap_then_names_when_a_slot_frees(
    engine: Engine,
) -> None:
    setup(engine, 3)
    first = post(engine)
    a, b, c = (d.id for d in rows(engine, first))
    now = utcnow()
    with session_scope(engine) as session:
        assert a is not None and b is not None and c is not None
        assert reserve_reach(session, a, limit=2, now=now) is None
        assert reserve_reach(session, b, limit=2, now=now + timedelta(minutes=1)) is None
        until = reserve_reach(session, c, limit=2, now=now + timedelta(minutes=2))
        assert until is not None and abs(until - (now + timedelta(hours=24))) < timedelta(seconds=1)
        assert reached_today(session, now=now + timedelta(minutes=2)) == 2
    # The same person again (a second post) is not a new unique user.
    second = post(engine)
    again = rows(engine, second)[0].id
    with session_scope(engine) as session:
        assert again is not None
        assert reserve_reach(session, again, limit=2, now=now + timedelta(minutes=3)) is None
        # A day later the first slots are free.
        later = now + timedelta(hours=24, minutes=2)
        assert reserve_reach(session, c, limit=2, now=later) is None


def test_many_reservations_at_once_answer_as_one_by_one_in_order(engine: Engine) -> None:
    """The group-committed reservation: one transaction for the batch, the same answers as
    asking one at a time; a recipient twice in the batch (two posts) counts once."""
    setup(engine, 4)
    first, second = rows(engine, post(engine)), rows(engine, post(engine))
    a, b, c, d = (int(r.id or 0) for r in first)
    a2 = next(int(r.id or 0) for r in second if r.identity_id == first[0].identity_id)
    now = utcnow()
    with session_scope(engine) as session:
        answers = reserve_reach_many(session, [a, b, a2, c, d], limit=3, now=now)
    assert [answers[k] for k in (a, b, a2, c)] == [None] * 4
    late = answers[d]
    assert late is not None and abs(late - (now + timedelta(hours=24))) < timedelta(seconds=1)
    with session_scope(engine, readonly=True) as session:
        assert reached_today(session, now=now) == 3
    reserved = rows(engine, first[0].post_id) + rows(engine, second[0].post_id)
    assert {r.id for r in reserved if r.template_at} == {a, b, c, a2}
    # Nothing more today, whether asked alone or in a batch.
    with session_scope(engine) as session:
        assert reserve_reach_many(session, [d], limit=3, now=now)[d] is not None
        assert reserve_reach_many(session, [], limit=3, now=now) == {}


def test_failed_status_takes_the_delivery_back_once_and_pricing_is_kept(engine: Engine) -> None:
    setup(engine, 2)
    post_id = post(engine)
    first, second = rows(engine, post_id)
    with session_scope(engine) as session:
        for row in (first, second):
            live = session.get(Delivery, row.id)
            assert live is not None
            mark_sent(session, live, "wamid.x")
    assert first.id is not None and second.id is not None
    failed = StatusUpdate(second.id, "failed", error_code=131026, error="not on WhatsApp")
    billed = StatusUpdate(first.id, "delivered", billable=True, category="marketing")
    with session_scope(engine) as session:
        assert apply_statuses(session, [billed, failed]) == 2
    with session_scope(engine) as session:  # the same again (a duplicate): nothing changes
        assert apply_statuses(session, [billed, failed]) == 0
    with session_scope(engine, readonly=True) as session:
        stat = session.exec(select(PostOpdStat).where(PostOpdStat.post_id == post_id)).one()
        assert stat.delivered == 1
        gone = session.get(Delivery, second.id)
        assert gone is not None and gone.status == DeliveryStatus.FAILED
        assert "131026" in (gone.error or "")
        identity = session.get(ChatIdentity, gone.identity_id)
        assert identity is not None and identity.reachable is False
        row = session.get(Post, post_id)
        assert row is not None
        summary = cost_summary(session, row, prices=PRICES, category="marketing", currency="USD")
        assert summary["billed_messages"] == 1 and summary["billed_cost"] == 0.05


def test_failures_in_one_batch_take_out_exactly_what_each_delivery_counted(
    engine: Engine,
) -> None:
    """A batch failing several deliveries at once (one opened and tapped, one only billed,
    one still ``sending`` and so never counted) leaves the counters and the day rollup equal
    to the facts, and a repeat of the batch changes nothing."""
    identities = setup(engine, 4)
    post_id = post(engine)
    tapped, billed, sending, kept = rows(engine, post_id)
    assert tapped.id and billed.id and sending.id and kept.id
    with session_scope(engine) as session:
        for row in (tapped, billed, kept):
            live = session.get(Delivery, row.id)
            assert live is not None
            mark_sent(session, live, "wamid.x")
        live = session.get(Delivery, sending.id)
        assert live is not None
        live.status = DeliveryStatus.SENDING
        session.add(live)
        account = session.get(ChatIdentity, identities[0])
        assert account is not None
        taps = [Tap(tapped.id, kind, account.external_id) for kind in ("like", "share")]
        record_taps(session, "whatsapp", taps)
        assert record_open(session, open_code(open_key(session), tapped.id)) is not None
    batch = [
        StatusUpdate(billed.id, "delivered", billable=True, category="marketing"),
        StatusUpdate(kept.id, "delivered", billable=True, category="marketing"),
        *(
            StatusUpdate(row.id, "failed", error_code=131047, error="Re-engagement message")
            for row in (tapped, billed, sending)
            if row.id
        ),
    ]
    with session_scope(engine) as session:
        held = session.get(Delivery, billed.id)  # an object the caller holds sees the failure
        assert apply_statuses(session, batch) == 4
        assert held is not None and held.status == DeliveryStatus.FAILED
        assert held.billable is False and held.error == "131047: Re-engagement message"
    with session_scope(engine) as session:
        assert apply_statuses(session, batch) == 0
    with session_scope(engine, readonly=True) as session:
        stat = session.exec(select(PostOpdStat).where(PostOpdStat.post_id == post_id)).one()
        counts = [getattr(stat, f) for f in FIELDS]
        assert counts == [1, 0, 0, 0, 0]  # only ``kept`` is left, untapped and unopened
        conn = session.connection()
        assert [tuple(r)[2:] for r in conn.execute(fact_counts(["post_id", "opd_id"]))] == [
            tuple(counts)
        ]
        assert_rollup_holds(session)
        failed = [session.get(Delivery, r.id) for r in (tapped, billed, sending)]
        assert all(d is not None and d.status == DeliveryStatus.FAILED for d in failed)
        still = session.get(ChatIdentity, identities[0])  # 131047 is no reason to stop
        assert still is not None and still.reachable is True


def test_a_stored_batch_applies_only_its_new_statuses_and_prices_each_delivery_once(
    engine: Engine,
) -> None:
    """``store_statuses`` (the inbox writer's path; one statement on PostgreSQL) against
    ``apply_statuses``' rules: sent then delivered prices a delivery once (a later empty
    category keeps the one given); a delivery failing in the batch is not billed even when
    priced before its failure; a second copy in the batch and a redelivery of a stored batch
    change nothing; the counters equal the facts."""
    setup(engine, 3)
    post_id = post(engine)
    priced, failing, other = rows(engine, post_id)
    assert priced.id and failing.id and other.id
    with session_scope(engine) as session:
        for row in (priced, failing, other):
            live = session.get(Delivery, row.id)
            assert live is not None
            mark_sent(session, live, "wamid.x")
    statuses = [
        ("s:p:sent", StatusUpdate(priced.id, "sent", billable=True, category="marketing")),
        ("s:f:sent", StatusUpdate(failing.id, "sent", billable=True, category="marketing")),
        ("s:p:delivered", StatusUpdate(priced.id, "delivered", billable=True, category="")),
        ("s:f:failed", StatusUpdate(failing.id, "failed", error_code=131026, error="x")),
        ("s:f:failed", StatusUpdate(failing.id, "failed", error_code=131026, error="x")),
        ("s:o:sent", StatusUpdate(other.id, "sent", billable=False, category="utility")),
    ]
    updates: list[tuple[str, dict[str, object] | None]] = [(u, None) for u, _ in statuses]
    with session_scope(engine) as session:
        held = session.get(Delivery, priced.id)  # an object the caller holds sees the pricing
        new = store_statuses(session, "whatsapp", updates, statuses)
        assert new == {"s:p:sent", "s:f:sent", "s:p:delivered", "s:f:failed", "s:o:sent"}
        assert held is not None and held.billable is True
    with session_scope(engine) as session:  # Meta redelivers the batch: nothing is new
        assert store_statuses(session, "whatsapp", updates, statuses) == set()
    with session_scope(engine, readonly=True) as session:
        found = {d.id: d for d in (session.get(Delivery, r.id) for r in (priced, failing, other))}
        got = {k: (d.status, d.billable, d.pricing_category) for k, d in found.items() if d}
        assert got == {
            priced.id: (DeliveryStatus.SENT, True, "marketing"),
            failing.id: (DeliveryStatus.FAILED, False, None),
            other.id: (DeliveryStatus.SENT, False, "utility"),
        }
        stat = session.exec(select(PostOpdStat).where(PostOpdStat.post_id == post_id)).one()
        counts = [getattr(stat, f) for f in FIELDS]
        assert counts == [2, 0, 0, 0, 0]
        conn = session.connection()
        assert [tuple(r)[2:] for r in conn.execute(fact_counts(["post_id", "opd_id"]))] == [
            tuple(counts)
        ]
        assert_rollup_holds(session)


def test_estimate_counts_only_closed_windows_on_whatsapp(engine: Engine) -> None:
    setup(engine, 3, inbound_hours_ago=None)
    with session_scope(engine) as session:
        asn = add_asn(session, opd="DINKES", phone="081299990001")
        register(session, asn, channel="whatsapp", external_id="6281299990001")  # wrote now
        tg_only = add_asn(session, opd="DINKES", phone="081299990002")
        register(session, tg_only, channel="telegram", external_id="555001")
    post_id = post(engine, approve=False)
    with session_scope(engine, readonly=True) as session:
        assert template_estimate(session, None) == 3
        row = session.get(Post, post_id)
        assert row is not None
        summary = cost_summary(session, row, prices=PRICES, category="marketing", currency="USD")
        assert summary["template_messages"] == 3 and summary["estimated_cost"] == 0.15
