"""The retention purge: old detail goes, the per-OPD figures stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert
from sqlmodel import Session, col, select

from bot.housekeeping import retention_loop
from db.accounts.retention import months_before, purge_expired
from db.accounts.signing import dashboard_link, session_subject, start_session
from db.delivery.confirmations import confirm
from db.delivery.counters import fact_counts, rebuild
from db.delivery.outbox import mark_sent
from db.models import (
    Asn,
    AuditLog,
    ChatIdentity,
    DashboardSession,
    Delivery,
    ProcessedUpdate,
    table,
)
from db.posts.lifecycle import approve_post, submit_post
from db.reporting.participation import participation
from db.reporting.window import Window
from db.settings import load_settings
from tests.factories import add_asn, delivery_of, register

# A month ahead: what the factories record at the real now is then 11 months old, kept.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
EVER = Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def test_months_before_counts_calendar_months() -> None:
    assert months_before(datetime(2027, 12, 15, 3, tzinfo=UTC), 12) == datetime(
        2026, 12, 15, 3, tzinfo=UTC
    )
    assert months_before(datetime(2027, 3, 31, tzinfo=UTC), 1) == datetime(2027, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 5, tzinfo=UTC), 13) == datetime(2025, 12, 5, tzinfo=UTC)


def _world(session: Session) -> dict[str, Asn]:
    """Lama left 13 months ago, Baru left last month, Tetap is still here; all got a post."""
    people = {n: add_asn(session, opd="DINKES", nama=n) for n in ("Lama", "Baru", "Tetap")}
    for person in people.values():
        register(session, person)
    post = submit_post(session, opd_kode="DINKES", url="https://www.instagram.com/p/old/")
    assert post.id is not None
    approve_post(session, post.id, now=NOW - timedelta(days=500))
    for person in people.values():
        mark_sent(session, delivery_of(session, post.id, person), "m")
        confirm(session, delivery_of(session, post.id, person), "like")
    for nama, left in (("Lama", NOW - timedelta(days=400)), ("Baru", NOW - timedelta(days=30))):
        people[nama].active, people[nama].left_at = False, left
        session.add(people[nama])
    conn = session.connection()
    conn.execute(
        insert(table(ProcessedUpdate)),
        [
            {
                "channel": "telegram",
                "update_id": "1",
                "at": NOW - timedelta(days=400),
                "handled_at": NOW - timedelta(days=400),
            },
            {
                "channel": "telegram",
                "update_id": "2",
                "at": NOW - timedelta(days=400),
                "handled_at": None,
                "payload": "{}",
            },
            {
                "channel": "telegram",
                "update_id": "3",
                "at": NOW - timedelta(days=1),
                "handled_at": NOW - timedelta(days=1),
            },
        ],
    )
    conn.execute(
        insert(table(AuditLog)),
        [
            {"at": NOW - timedelta(days=400), "actor": "cli", "action": "old"},
            {"at": NOW - timedelta(days=2), "actor": "cli", "action": "recent"},
        ],
    )
    session.commit()
    return people


def _figures(session: Session) -> object:
    return (
        participation(session, EVER).total.as_dict(),
        sorted(tuple(r) for r in session.connection().execute(fact_counts(["opd_id"], EVER))),
    )


def test_purge_removes_old_detail_and_keeps_the_figures(session: Session) -> None:
    people = _world(session)
    before = _figures(session)

    purged = purge_expired(session, months=12, now=NOW)
    session.commit()

    assert (purged.people, purged.deliveries, purged.accounts) == (1, 1, 1)
    assert (purged.updates, purged.audit) == (1, 1)
    linked = {d.asn_id for d in session.exec(select(Delivery))}
    assert linked == {people["Baru"].id, people["Tetap"].id, None}
    owners = {i.asn_id for i in session.exec(select(ChatIdentity))}
    assert owners == {people["Baru"].id, people["Tetap"].id}
    assert session.get(Asn, people["Lama"].id) is not None  # the roster record stays
    kept = session.exec(select(ProcessedUpdate.update_id).order_by(col(ProcessedUpdate.update_id)))
    assert kept.all() == ["2", "3"]  # an unhandled update is never dropped
    actions = session.exec(select(AuditLog.action).order_by(col(AuditLog.id))).all()
    assert actions[0] != "old" and "recent" in actions and actions[-1] == "retention.purge"
    assert _figures(session) == before
    rebuild(session)
    assert _figures(session) == before

    again = purge_expired(session, months=12, now=NOW)
    assert not again.anything


def test_a_longer_period_keeps_more(session: Session) -> None:
    _world(session)
    purged = purge_expired(session, months=24, now=NOW)
    assert not purged.anything


def test_the_worker_loop_purges_at_start_and_stops_when_told(
    engine: Engine, session: Session
) -> None:
    people = _world(session)

    async def run() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(
            retention_loop(engine, 12, stop, interval=0.05, clock=lambda: NOW)
        )
        await asyncio.sleep(1.0)  # 20 intervals: at least two passes even on a loaded machine
        stop.set()
        return await task

    assert asyncio.run(run()) >= 2
    with Session(engine) as fresh:
        assert fresh.exec(select(Delivery).where(Delivery.asn_id == people["Lama"].id)).all() == []


def test_the_period_is_a_setting_of_twelve_months_by_default() -> None:
    assert load_settings(_env_file=None).retention_months == 12
    assert load_settings(retention_months=24, _env_file=None).retention_months == 24


def test_expired_dashboard_sign_ins_are_purged_and_live_ones_kept(session: Session) -> None:
    """``db.accounts.signing.forget_expired``, run by the worker's purge: a spent or lapsed
    link or session signs no one in, and only tells when an admin signed in."""
    now = datetime.now(UTC)
    key = b"k" * 32
    dashboard_link(session, key, subject="admin:1", now=now - timedelta(hours=1))
    start_session(session, key, subject="admin:1", now=now - timedelta(days=1))
    live = start_session(session, key, subject="admin:1", now=now)
    session.commit()
    purged = purge_expired(session, months=12, now=now)
    assert purged.sign_ins == 2 and purged.anything
    assert session_subject(session, key, live, now=now) == "admin:1"
    assert len(session.exec(select(DashboardSession)).all()) == 1
