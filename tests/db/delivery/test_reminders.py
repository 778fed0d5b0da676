"""The reminder claim reads the week's window, not the year (issues 10 and 12).

Every worker claims reminders every round. On a year of data (8.76 M deliveries) the claim
once read every sent delivery and, for each one in the window, every delivery of its ASN:
it outlasted a 10-minute statement timeout. Its plan must now start from the partial index of
the rows still waiting for a reminder, and count a person's reminders of the week from the
index of reminded rows, on both engines; these tests fail when either index is dropped or
the query stops fitting it (a status given as a parameter, which no planner can match to the
index's condition).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, event, insert, text, update
from sqlmodel import Session, col, select

from db.delivery.confirmations import confirm
from db.delivery.reminders import claim_reminders
from db.models import ChatIdentity, Delivery, DeliveryStatus, Post, PostStatus
from tests.factories import add_asn, register

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 WIB
DELAY = timedelta(hours=6)
PEOPLE, POSTS = 8, 365  # a post a day for a year: 2,920 deliveries, 56 of them in the week


def a_year(session: Session) -> list[Delivery]:
    """A post a day for a year to ``PEOPLE`` registered ASN, every delivery sent; returns the
    deliveries of the last week, oldest first."""
    people = [add_asn(session, opd="DINKES") for _ in range(PEOPLE)]
    identities = [register(session, asn) for asn in people]
    opd_id = people[0].opd_id
    template = Post(opd_id=opd_id, url="u", platform="instagram")
    posts = [
        {
            **template.model_dump(exclude={"id"}),
            "url": f"https://instagram.com/p/y{day}",
            "status": PostStatus.SENT,
            "submitted_at": NOW - timedelta(days=POSTS - day),
            "approved_at": NOW - timedelta(days=POSTS - day),
        }
        for day in range(POSTS)
    ]
    session.execute(insert(Post), posts)
    made = select(col(Post.id)).where(col(Post.url).startswith("https://instagram.com/p/y"))
    post_ids = [i for i in session.exec(made.order_by(col(Post.id))) if i is not None]
    rows = []
    for day, post_id in enumerate(post_ids):
        for identity in identities:
            rows.append(
                Delivery(
                    post_id=post_id,
                    asn_id=identity.asn_id,
                    opd_id=opd_id,
                    identity_id=identity.id,
                    channel=identity.channel,
                    status=DeliveryStatus.SENT,
                    attempts=1,
                    sent_at=NOW - timedelta(days=POSTS - day),
                ).model_dump(exclude={"id"})
            )
    session.execute(insert(Delivery), rows)
    session.commit()
    week = select(Delivery).where(col(Delivery.sent_at) > NOW - timedelta(days=7))
    return list(session.exec(week.order_by(col(Delivery.sent_at), col(Delivery.id))))


def claim(session: Session, now: datetime, *, per_week: int | None = 3) -> list[int]:
    got = claim_reminders(
        session, now=now, delay=DELAY, limit=100, channels=["telegram"], per_week=per_week
    )
    return [c.id for c in got]


def generic_plan(conn: Connection, statement: str, params: dict[str, Any]) -> str:
    """PostgreSQL's plan of ``statement`` as a prepared statement gets it after a few runs
    (psycopg prepares a statement run five times): generic, planned without the values."""
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    raw = conn.connection.driver_connection
    assert raw is not None
    before = {r[0] for r in raw.execute("SELECT name FROM pg_prepared_statements")}
    raw.execute(statement, params, prepare=True)
    (name,) = {r[0] for r in raw.execute("SELECT name FROM pg_prepared_statements")} - before
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))  # psycopg's $1, $2…
    values = ", ".join(f"%({n})s" for n in names)
    with psycopg.ClientCursor(raw) as cursor:  # the values as literals, as EXECUTE wants
        cursor.execute(f"EXPLAIN EXECUTE {name}({values})", params)
        return "\n".join(r[0] for r in cursor.fetchall())


def test_the_claim_plan_starts_from_the_rows_waiting_for_a_reminder(session: Session) -> None:
    week = a_year(session)
    bind = session.get_bind()
    postgres = bind.dialect.name == "postgresql"
    # Someone reminded this week: their count comes from the index of reminded rows.
    session.execute(update(Delivery).where(col(Delivery.id) == week[0].id).values(reminded_at=NOW))
    session.commit()
    if postgres:
        session.execute(text("ANALYZE"))  # production PostgreSQL has statistics
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if "delivery" in statement and "reminded_at" in statement and "SELECT" in statement:
            statements.append((statement, params))

    event.listen(bind, "before_cursor_execute", keep)
    try:
        assert claim(session, NOW + DELAY) != []
    finally:
        event.remove(bind, "before_cursor_execute", keep)
    session.rollback()
    due, counted = statements[0], statements[1]  # the candidates, then the week's counts
    assert "ORDER BY" in due[0] and "GROUP BY" in counted[0]
    conn = session.connection()
    if postgres:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # judge the indexes, not size
        generic = [generic_plan(conn, s, p) for s, p in (due, counted)]
        assert "Seq Scan on delivery" not in generic[0], generic[0]
        assert "ix_delivery_remind_due" in generic[0], generic[0]
        assert "ix_delivery_reminded" in generic[0], generic[0]  # the weekly cap in the query
        assert "ix_delivery_reminded" in generic[1], generic[1]
        return
    plans = [
        [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p)]
        for s, p in (due, counted)
    ]
    steps = {
        alias: [s for s in plans[0] if f" {alias} " in f" {s} "] for alias in ("delivery", "week")
    }
    assert steps["delivery"] and all("ix_delivery_remind_due" in s for s in steps["delivery"]), (
        plans[0]
    )
    assert steps["week"] and all("ix_delivery_reminded" in s for s in steps["week"]), plans[0]
    assert any("ix_delivery_reminded" in s for s in plans[1]), plans[1]
    assert not any(s.startswith("SCAN ") for plan in plans for s in plan), plans


def test_the_claim_takes_the_oldest_waiting_rows_of_the_week_and_no_others(
    session: Session,
) -> None:
    week = a_year(session)
    confirm(session, week[0], "like")  # confirmed: no reminder
    blocked = session.get(ChatIdentity, week[1].identity_id)
    assert blocked is not None
    blocked.reachable = False
    session.add(blocked)
    session.commit()
    wanted = {
        d.id
        for d in week
        if d.id != week[0].id
        and d.identity_id != week[1].identity_id
        and d.sent_at is not None
        and d.sent_at <= NOW
    }
    got = claim(session, NOW + DELAY, per_week=None)
    assert set(got) == wanted and len(got) == len(wanted)
    session.commit()
    assert claim(session, NOW + 2 * DELAY, per_week=None) == []  # each once
    # The year before the week is never looked at, however many rows wait there unreminded.
    old = session.exec(
        select(Delivery).where(
            col(Delivery.reminded_at).is_(None), col(Delivery.sent_at) < NOW - timedelta(days=8)
        )
    ).all()
    assert len(old) > PEOPLE * 300
