from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from db.accounts.identities import mark_unreachable, opt_out
from db.delivery.confirmations import confirm
from db.delivery.outbox import (
    Outcome,
    _record_sent,
    _sent_values,
    claim_due,
    finish_posts,
    progress,
    record_outcomes,
    renew_leases,
    requeue_failed,
)
from db.delivery.reminders import claim_reminders, in_quiet_hours
from db.engine import make_engine, session_scope
from db.models import Asn, ChatIdentity, Delivery, FailureKind, Post, PostOpdStat
from db.posts.lifecycle import approve_post, cancel_post, submit_post
from tests.db.racing import race
from tests.factories import add_asn, register

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 WIB
LEASE = timedelta(seconds=30)
WIB = ZoneInfo("Asia/Jakarta")


def queue_post(session: Session, n: int, *, send_at: datetime | None = None) -> int:
    for _ in range(n):
        register(session, add_asn(session, opd="DINKES"))
    post = submit_post(
        session, opd_kode="DINKES", url=f"https://instagram.com/p/{n}-{int(bool(send_at))}"
    )
    assert post.id is not None
    approve_post(session, post.id, now=NOW, send_at=send_at)
    session.commit()
    return post.id


def test_claims_lease_rows_and_expired_leases_come_back(session: Session) -> None:
    post_id = queue_post(session, 5)
    first = claim_due(session, worker="a", limit=3, now=NOW, lease=LEASE)
    second = claim_due(session, worker="b", limit=10, now=NOW, lease=LEASE)
    session.commit()
    assert len(first) == 3 and len(second) == 2
    assert {c.id for c in first}.isdisjoint(c.id for c in second)
    assert first[0].url.startswith("https://instagram.com/") and first[0].chat_id
    assert session.get(Post, post_id).status == "sending"  # type: ignore[union-attr]
    assert claim_due(session, worker="c", limit=10, now=NOW + LEASE / 2, lease=LEASE) == []
    # worker "a" died: its rows come back once the lease ends, to anyone
    record_outcomes(session, [Outcome(c.id, "sent", message_id="1") for c in second], now=NOW)
    again = claim_due(session, worker="c", limit=10, now=NOW + LEASE, lease=LEASE)
    assert sorted(c.id for c in again) == sorted(c.id for c in first)


def test_outcomes_and_post_completion(session: Session) -> None:
    post_id = queue_post(session, 5)
    claimed = claim_due(session, worker="a", limit=5, now=NOW, lease=LEASE)
    later = NOW + timedelta(minutes=1)
    outcomes = [
        Outcome(claimed[0].id, "sent", message_id="11"),
        Outcome(claimed[1].id, "failed", error="Bad Request: message is too long"),
        Outcome(
            claimed[2].id,
            "unreachable",
            error="Forbidden: bot was blocked by the user",
            identity_id=claimed[2].identity_id,
        ),
        Outcome(claimed[3].id, "retry", error="HTTP 502", next_attempt_at=later),
        Outcome(claimed[4].id, "deferred", error="retry after 5", next_attempt_at=later),
    ]
    touched = record_outcomes(session, outcomes, now=NOW)
    finish_posts(session, touched, now=NOW)
    session.commit()
    rows = {d.id: d for d in session.exec(select(Delivery))}
    assert (rows[claimed[0].id].status, rows[claimed[0].id].message_id) == ("sent", "11")
    assert rows[claimed[0].id].attempts == 1
    assert rows[claimed[1].id].status == "failed" and "too long" in (
        rows[claimed[1].id].error or ""
    )
    assert rows[claimed[2].id].status == "failed"
    identity = session.get(ChatIdentity, claimed[2].identity_id)
    assert identity is not None and not identity.reachable
    assert (rows[claimed[3].id].status, rows[claimed[3].id].attempts) == ("pending", 1)
    assert (rows[claimed[4].id].status, rows[claimed[4].id].attempts) == ("pending", 0)
    assert session.get(Post, post_id).status == "sending"  # type: ignore[union-attr]
    state = progress(session, post_id, now=NOW, horizon=timedelta(seconds=10))
    assert (state.sent, state.failed, state.pending, state.deferred) == (1, 2, 2, 2)
    assert state.done  # what remains is not due within the horizon

    assert claim_due(session, worker="a", limit=5, now=NOW, lease=LEASE) == []
    retried = claim_due(session, worker="a", limit=5, now=later, lease=LEASE)
    finish_posts(
        session,
        record_outcomes(
            session, [Outcome(c.id, "sent", message_id="x") for c in retried], now=later
        ),
        now=later,
    )
    session.commit()
    post = session.get(Post, post_id)
    assert post is not None and post.status == "sent" and post.sent_at == later


def test_scheduled_posts_wait_for_their_time(session: Session) -> None:
    send_at = NOW + timedelta(hours=2)
    queue_post(session, 2, send_at=send_at)
    assert claim_due(session, worker="a", limit=5, now=NOW, lease=LEASE) == []
    assert len(claim_due(session, worker="a", limit=5, now=send_at, lease=LEASE)) == 2


def test_cancelled_posts_stop_sending(session: Session) -> None:
    post_id = queue_post(session, 3)
    cancel_post(session, post_id)
    session.commit()
    assert claim_due(session, worker="a", limit=5, now=NOW, lease=LEASE) == []
    statuses = {d.status for d in session.exec(select(Delivery))}
    assert statuses == {"failed"}


def test_concurrent_claimers_never_share_a_row(engine: Engine) -> None:
    """Four threads, each with its own connection, race to drain one broadcast."""
    with session_scope(engine) as session:
        queue_post(session, 120)

    def drain(i: int) -> list[int]:
        taken: list[int] = []
        while True:
            with session_scope(engine) as session:
                got = claim_due(session, worker=f"w{i}", limit=7, now=NOW, lease=LEASE)
            if not got:
                return taken
            taken.extend(c.id for c in got)

    every = [d for ids in race(4, drain) for d in ids]
    assert len(every) == 120 and len(set(every)) == 120


def test_reminders_only_to_those_who_should_get_one(session: Session) -> None:
    post_id = queue_post(session, 5)
    claimed = claim_due(session, worker="a", limit=5, now=NOW, lease=LEASE)
    record_outcomes(session, [Outcome(c.id, "sent", message_id="1") for c in claimed], now=NOW)
    session.commit()
    deliveries = {
        d.id: d for d in session.exec(select(Delivery).where(Delivery.post_id == post_id))
    }
    ids = sorted(deliveries)
    confirm(session, deliveries[ids[0]], "like")  # confirmed: no reminder
    opted = session.get(Asn, deliveries[ids[1]].asn_id)
    assert opted is not None
    opt_out(session, opted)
    blocked = session.get(ChatIdentity, deliveries[ids[2]].identity_id)
    assert blocked is not None
    blocked.reachable = False
    session.add(blocked)
    session.commit()
    delay = timedelta(hours=6)
    assert (
        claim_reminders(session, now=NOW + delay / 2, delay=delay, limit=10, channels=["telegram"])
        == []
    )
    due = claim_reminders(session, now=NOW + delay, delay=delay, limit=10, channels=["telegram"])
    assert sorted(c.id for c in due) == ids[3:]
    session.commit()
    assert (
        claim_reminders(session, now=NOW + 2 * delay, delay=delay, limit=10, channels=["telegram"])
        == []
    )  # once


def test_quiet_hours_wrap_past_midnight() -> None:
    start, end = time(21, 0), time(6, 0)

    def at(h: int, m: int = 0) -> datetime:
        return datetime(2026, 11, 23, h, m, tzinfo=WIB)

    assert in_quiet_hours(at(21), WIB, start, end)
    assert in_quiet_hours(at(23, 59), WIB, start, end)
    assert in_quiet_hours(at(0), WIB, start, end)
    assert in_quiet_hours(at(5, 59), WIB, start, end)
    assert not in_quiet_hours(at(6), WIB, start, end)
    assert not in_quiet_hours(at(20, 59), WIB, start, end)
    assert in_quiet_hours(datetime(2026, 11, 23, 15, 0, tzinfo=UTC), WIB, start, end)  # 22:00 WIB
    assert in_quiet_hours(at(13), WIB, time(12, 0), time(14, 0))


def test_a_stale_worker_cannot_overwrite_what_the_next_worker_recorded(session: Session) -> None:
    queue_post(session, 3)
    stalled = claim_due(session, worker="a", limit=3, now=NOW, lease=LEASE)
    session.commit()
    # "a" stalls past its lease; "b" takes the rows over and finishes them.
    taken = claim_due(session, worker="b", limit=3, now=NOW + LEASE, lease=LEASE)
    assert sorted(c.id for c in taken) == sorted(c.id for c in stalled)
    first, second, third = (c.id for c in taken)
    record_outcomes(
        session,
        [Outcome(first, "sent", message_id="b1"), Outcome(second, "failed", error="400")],
        now=NOW + LEASE,
        worker="b",
    )
    late = NOW + LEASE * 2
    record_outcomes(
        session,
        [
            Outcome(first, "retry", error="timeout", next_attempt_at=late),
            Outcome(second, "sent", message_id="a2"),
            Outcome(third, "failed", error="timeout"),
        ],
        now=late,
        worker="a",
    )
    session.commit()
    rows = {d.id: d for d in session.exec(select(Delivery)).all()}
    assert (rows[first].status, rows[first].message_id) == ("sent", "b1")
    assert rows[second].status == "failed"  # final: not turned into sent either
    assert rows[third].status == "sending" and rows[third].lease_owner == "b"
    # A message "a" really sent while "b" still holds the row is the truth, counted once.
    record_outcomes(session, [Outcome(third, "sent", message_id="a3")], now=late, worker="a")
    record_outcomes(session, [Outcome(third, "sent", message_id="b3")], now=late, worker="b")
    session.commit()
    session.expire_all()
    assert session.get(Delivery, third).message_id == "a3"  # type: ignore[union-attr]
    counted = progress(session, rows[first].post_id, now=late, horizon=LEASE)
    assert (counted.sent, counted.failed) == (2, 1)


def test_leases_are_renewed_only_by_their_holder(session: Session) -> None:
    queue_post(session, 2)
    mine, theirs = claim_due(session, worker="a", limit=2, now=NOW, lease=LEASE)
    later = NOW + LEASE / 2
    assert renew_leases(session, worker="a", ids=[mine.id], now=later, lease=LEASE) == {mine.id}
    assert renew_leases(session, worker="b", ids=[theirs.id], now=later, lease=LEASE) == set()
    session.commit()
    # Only the row not renewed comes back when the first lease ends.
    back = claim_due(session, worker="b", limit=5, now=NOW + LEASE, lease=LEASE)
    assert [c.id for c in back] == [theirs.id]


def test_claim_skips_those_who_opted_out_were_blocked_or_left_after_approval(
    session: Session,
) -> None:
    asns = [add_asn(session, opd="DINKES") for _ in range(5)]
    identities = [register(session, asn) for asn in asns]
    post = submit_post(session, opd_kode="DINKES", url="https://instagram.com/p/skip")
    assert post.id is not None
    approve_post(session, post.id, now=NOW)
    opt_out(session, asns[0], now=NOW)
    mark_unreachable(session, identities[1], "Forbidden: bot was blocked by the user", now=NOW)
    asns[2].active = False
    session.add(asns[2])
    session.delete(identities[4])  # the chat identity removed (its deliveries keep no chat)
    session.commit()
    claimed = claim_due(session, worker="a", limit=10, now=NOW, lease=LEASE)
    session.commit()
    by_asn = {d.asn_id: d for d in session.exec(select(Delivery)).all()}
    assert [c.id for c in claimed] == [by_asn[asns[3].id].id]
    assert by_asn[asns[0].id].status == "skipped"
    assert "/berhenti" in (by_asn[asns[0].id].error or "")
    assert by_asn[asns[1].id].status == "skipped"
    assert "blocked" in (by_asn[asns[1].id].error or "")
    assert by_asn[asns[2].id].status == "skipped"
    assert "daftar" in (by_asn[asns[2].id].error or "")
    assert by_asn[asns[4].id].status == "skipped"
    assert "identitas chat" in (by_asn[asns[4].id].error or "")
    record_outcomes(session, [Outcome(claimed[0].id, "sent", message_id="1")], now=NOW)
    finish_posts(session, {post.id}, now=NOW)
    session.commit()
    state = progress(session, post.id, now=NOW, horizon=LEASE)
    assert (state.sent, state.skipped, state.failed, state.pending) == (1, 4, 0, 0)
    session.expire_all()
    assert session.get(Post, post.id).status == "sent"  # type: ignore[union-attr]


def test_retry_failed_requeues_only_transient_failures(session: Session) -> None:
    post_id = queue_post(session, 4)
    a, b, c, d = claim_due(session, worker="a", limit=4, now=NOW, lease=LEASE)
    record_outcomes(
        session,
        [
            Outcome(a.id, "failed", error="gagal terus", failure_kind=FailureKind.TRANSIENT),
            Outcome(b.id, "failed", error="Bad Request", failure_kind=FailureKind.REFUSED),
            Outcome(c.id, "unreachable", error="Forbidden", identity_id=c.identity_id),
            Outcome(d.id, "sent", message_id="1"),
        ],
        now=NOW,
        worker="a",
    )
    finish_posts(session, {post_id}, now=NOW)
    session.commit()
    session.expire_all()
    assert session.get(Delivery, c.id).failure_kind == "unreachable"  # type: ignore[union-attr]
    assert requeue_failed(session, post_id, now=NOW) == 1
    assert requeue_failed(session, post_id, now=NOW) == 0
    session.commit()
    session.expire_all()
    assert session.get(Post, post_id).status == "sending"  # type: ignore[union-attr]
    again = claim_due(session, worker="b", limit=4, now=NOW, lease=LEASE)
    assert [x.id for x in again] == [a.id]


def test_each_sent_row_of_a_batch_gets_its_own_message_id(session: Session) -> None:
    """One statement moves a batch's sent rows and sets their message ids: each row gets its
    own (or none), a row reported twice is counted once, a row already sent keeps its id."""
    post_id = queue_post(session, 6)
    claimed = claim_due(session, worker="a", limit=6, now=NOW, lease=LEASE)
    early, rest = claimed[0], claimed[1:]
    record_outcomes(session, [Outcome(early.id, "sent", message_id="first")], now=NOW)
    sent = [Outcome(c.id, "sent", message_id=f"m{c.id}") for c in rest[:-1]]
    sent += [Outcome(rest[-1].id, "sent"), Outcome(early.id, "sent", message_id="again")]
    record_outcomes(session, sent + sent[:1], now=NOW, worker="a")  # one reported twice
    session.commit()
    session.expire_all()
    rows = session.exec(select(Delivery).where(Delivery.post_id == post_id)).all()
    assert {(d.id, d.status, d.message_id, d.attempts) for d in rows} == {
        (early.id, "sent", "first", 1),
        *((c.id, "sent", f"m{c.id}", 1) for c in rest[:-1]),
        (rest[-1].id, "sent", None, 1),
    }
    stats = session.exec(select(PostOpdStat).where(PostOpdStat.post_id == post_id)).all()
    assert sum(s.delivered for s in stats) == 6


def test_sqlite_finds_each_sent_row_by_its_id_not_by_scanning_the_open_ones(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """SQLite has no statistics unless ANALYZE ran. The batch's ``sent`` statement was once
    planned as a walk of every open delivery by the status index, reading the JSON batch for
    each: 0.5 s a batch of 100 with 16,000 open, so a paid broadcast on SQLite spent twice the
    CPU. Its plan must look each row up by id, driven by the batch."""
    target = tmp_path / "plan.db"
    shutil.copyfile(sqlite_template, target)
    engine = make_engine(f"sqlite:///{target}")
    try:
        statement = _record_sent("sqlite").compile(dialect=engine.dialect)
        sql = re.sub(r"\(__\[POSTCOMPILE_\w+\]\)", "('sending', 'pending')", str(statement))
        values = _sent_values("sqlite", {1: "m1"}, datetime(2026, 12, 2, tzinfo=UTC))
        names = [
            n for n in statement.positiontup or [] if f"POSTCOMPILE_{n}]" not in str(statement)
        ]
        args = [values.get(name, "x") for name in names]
        with engine.connect() as conn:
            plan = [
                row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(args))
            ]
    finally:
        engine.dispose()
    assert any("delivery USING INTEGER PRIMARY KEY" in step for step in plan), plan
    assert not any("ix_delivery_due" in step for step in plan), plan
