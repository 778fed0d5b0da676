"""``bench/seed_year.py`` writes what the app would have recorded, and leaves the schema whole."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select

from bench.seed_year import seed_year
from db.delivery.counters import day_counts, fact_counts
from db.models import OpdDayStat, PostOpdStat, table


def test_seeded_counters_equal_the_facts_and_indexes_come_back(engine: Engine) -> None:
    before = inspect(engine)
    indexes = {t: {i["name"] for i in before.get_indexes(t)} for t in ("delivery", "confirmation")}
    keys = {t: len(before.get_foreign_keys(t)) for t in ("delivery", "confirmation")}

    totals = seed_year(engine, asn=40, days=2, log=lambda *_: None)

    assert totals["deliveries"] == 40 * 2 * 3 and totals["confirmations"] > 0
    stat = table(PostOpdStat)
    with engine.connect() as conn:
        counters = {
            tuple(row)
            for row in conn.execute(
                select(
                    stat.c.post_id,
                    stat.c.opd_id,
                    stat.c.delivered,
                    stat.c.liked,
                    stat.c.shared,
                    stat.c.participated,
                    stat.c.opened,
                )
            )
        }
        facts = {tuple(row) for row in conn.execute(fact_counts(["post_id", "opd_id"]))}
        rollup = {tuple(row) for row in conn.execute(select(table(OpdDayStat)))}
        days = {tuple(row) for row in conn.execute(day_counts(engine.dialect.name))}
    assert counters == facts
    assert rollup == days and rollup
    after = inspect(engine)
    for name in ("delivery", "confirmation"):
        assert {i["name"] for i in after.get_indexes(name)} == indexes[name]
        assert len(after.get_foreign_keys(name)) == keys[name]
