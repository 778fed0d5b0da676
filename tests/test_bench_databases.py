"""bench/databases.py: the benchmarks' "as if the broadcast had run" leaves a true state."""

from __future__ import annotations

from sqlalchemy import Engine, select

from bench.databases import approve_for_everyone, as_if_sent, counters_and_facts, emulated_roster
from bot.emulators.telegram.world import FIRST_USER_ID
from db.models import Delivery, DeliveryStatus, table


def test_as_if_sent_marks_one_posts_deliveries_and_keeps_the_counters_true(engine: Engine) -> None:
    emulated_roster(engine, 12, seed=1)
    first, queued = approve_for_everyone(engine, "https://www.instagram.com/p/satu/", "Satu")
    second, _ = approve_for_everyone(engine, "https://www.instagram.com/p/dua/", "Dua")
    assert queued == 12

    pairs = as_if_sent(engine, first, message_id="7")

    assert sorted(int(chat) for _, chat in pairs) == list(range(FIRST_USER_ID, FIRST_USER_ID + 12))
    delivery = table(Delivery)
    with engine.connect() as conn:
        rows = conn.execute(
            select(delivery.c.id, delivery.c.post_id, delivery.c.status, delivery.c.message_id)
        ).all()
        counters, facts = counters_and_facts(conn)
    sent = {row.id for row in rows if row.status == DeliveryStatus.SENT.value}
    assert sent == {d for d, _ in pairs}
    assert {row.post_id for row in rows if row.id in sent} == {first}
    assert all(row.message_id == "7" for row in rows if row.id in sent)
    assert all(row.status == DeliveryStatus.PENDING.value for row in rows if row.post_id == second)
    assert counters == facts and any(counters.values())
