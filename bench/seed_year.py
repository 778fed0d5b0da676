"""A realistic year, fast: 8,000 ASN in 58 OPD, 3 posts a day, every delivery and confirmation.

Rows are generated in Python and written in bulk (PostgreSQL: COPY; SQLite: executemany in
large transactions). The per post × OPD counters are computed while generating, so the
database ends exactly as if the year had happened through the app. Deterministic per seed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from db.engine import session_scope
from db.models import ChatIdentity, Post, PostOpdStat, table
from db.roster.synthetic import import_synthetic_roster

POSTS_PER_DAY = 3
CHUNK = 50_000


def seed_year(
    engine: Engine,
    *,
    asn: int = 8000,
    days: int = 365,
    seed: int = 7,
    end: datetime | None = None,
    log: Any = print,
) -> dict[str, int]:
    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    with session_scope(engine) as session:
        import_synthetic_roster(session, asn, seed=seed)
    with engine.connect() as conn:
        people = conn.execute(text("SELECT id, opd_id FROM asn ORDER BY id")).all()
        opd_ids = sorted({o for _, o in people})
    # Each OPD has its own culture of taking part; people vary around it.
    opd_rate = {o: rng.uniform(0.35, 0.95) for o in opd_ids}
    person_rate = {a: min(1.0, max(0.0, rng.gauss(opd_rate[o], 0.15))) for a, o in people}
    log(f"roster: {len(people)} ASN ({time.perf_counter() - began:.1f} s)")

    identities = [
        {
            "channel": "telegram",
            "external_id": str(1_000_000 + a),
            "chat_id": str(1_000_000 + a),
            "asn_id": a,
            "reachable": True,
            "created_at": end - timedelta(days=days + 1),
        }
        for a, _ in people
    ]
    with session_scope(engine) as session:
        session.connection().execute(insert(table(ChatIdentity)), identities)
    with engine.connect() as conn:
        identity_of = dict(conn.execute(text("SELECT asn_id, id FROM chat_identity")).all())

    posts = []
    start = end - timedelta(days=days)
    for day in range(days):
        for slot in range(POSTS_PER_DAY):
            approved = start + timedelta(days=day, hours=1 + 4 * slot, minutes=rng.randint(0, 59))
            posts.append(
                {
                    "opd_id": rng.choice(opd_ids),
                    "url": f"https://instagram.com/p/seed{day}-{slot}",
                    "platform": "instagram",
                    "caption": None,
                    "status": "sent",
                    "target_all": True,
                    "submitted_at": approved - timedelta(hours=1),
                    "approved_at": approved,
                    "sent_at": approved + timedelta(minutes=5),
                }
            )
    with session_scope(engine) as session:
        session.connection().execute(insert(table(Post)), posts)
    with engine.connect() as conn:
        post_rows = conn.execute(text("SELECT id, approved_at FROM post ORDER BY id")).all()
    log(f"posts: {len(post_rows)}")

    counters: dict[tuple[int, int], list[int]] = {}
    totals = {"deliveries": 0, "confirmations": 0}

    def deliveries() -> Iterator[tuple[Any, ...]]:
        for post_id, approved in post_rows:
            when = approved if isinstance(approved, datetime) else datetime.fromisoformat(approved)
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
            sent = when + timedelta(minutes=3)
            for asn_id, opd_id in people:
                yield (post_id, asn_id, opd_id, identity_of[asn_id], sent)

    next_delivery = _next_id(engine, "delivery")
    delivery_batch: list[tuple[Any, ...]] = []
    confirmation_batch: list[tuple[Any, ...]] = []
    for post_id, asn_id, opd_id, identity_id, sent in deliveries():
        delivery_id = next_delivery
        next_delivery += 1
        delivery_batch.append(
            (
                delivery_id,
                post_id,
                asn_id,
                opd_id,
                identity_id,
                "telegram",
                "sent",
                1,
                None,
                None,
                None,
                f"m{delivery_id}",
                sent,
                None,
                None,
                None,
                sent,
            )
        )
        c = counters.setdefault((post_id, opd_id), [0, 0, 0, 0])
        c[0] += 1
        p = person_rate[asn_id]
        liked = rng.random() < p
        shared = rng.random() < p * 0.6
        if liked:
            confirmation_batch.append(
                (delivery_id, "like", "telegram", sent + timedelta(minutes=20))
            )
            c[1] += 1
        if shared:
            confirmation_batch.append(
                (delivery_id, "share", "telegram", sent + timedelta(minutes=25))
            )
            c[2] += 1
        if liked or shared:
            c[3] += 1
        if len(delivery_batch) >= CHUNK:
            _write(engine, delivery_batch, confirmation_batch, totals)
            delivery_batch, confirmation_batch = [], []
            if totals["deliveries"] % 1_000_000 < CHUNK:
                log(f"  {totals['deliveries']:,} deliveries ({time.perf_counter() - began:.0f} s)")
    _write(engine, delivery_batch, confirmation_batch, totals)
    stats = [
        {
            "post_id": p,
            "opd_id": o,
            "delivered": c[0],
            "liked": c[1],
            "shared": c[2],
            "participated": c[3],
        }
        for (p, o), c in counters.items()
    ]
    with session_scope(engine) as session:
        session.connection().execute(insert(table(PostOpdStat)), stats)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT setval('delivery_id_seq', (SELECT max(id) FROM delivery))"))
            conn.commit()
        # What autovacuum does to a year of inserts in production (PostgreSQL 13+ vacuums
        # insert-only tables too): statistics, and a visibility map for index-only scans.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    log(f"seeded in {time.perf_counter() - began:.0f} s: {totals}")
    return totals | {"posts": len(post_rows), "asn": len(people)}


DELIVERY_COLUMNS = (
    "id",
    "post_id",
    "asn_id",
    "opd_id",
    "identity_id",
    "channel",
    "status",
    "attempts",
    "next_attempt_at",
    "lease_owner",
    "lease_until",
    "message_id",
    "sent_at",
    "failed_at",
    "error",
    "reminded_at",
    "created_at",
)
CONFIRMATION_COLUMNS = ("delivery_id", "kind", "channel", "created_at")


def _next_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {name}")).scalar_one())


def _write(
    engine: Engine,
    deliveries: list[tuple[Any, ...]],
    confirmations: list[tuple[Any, ...]],
    totals: dict[str, int],
) -> None:
    if not deliveries:
        return
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY delivery ({', '.join(DELIVERY_COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in deliveries:
                    copy.write_row(row)
            with cursor.copy(
                f"COPY confirmation ({', '.join(CONFIRMATION_COLUMNS)}) FROM STDIN"  # type: ignore[attr-defined]
            ) as copy:
                for row in confirmations:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:

        def naive(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)

        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(
                f"INSERT INTO delivery ({', '.join(DELIVERY_COLUMNS)}) VALUES "
                f"({', '.join('?' * len(DELIVERY_COLUMNS))})",
                [naive(r) for r in deliveries],
            )
            cursor.executemany(
                f"INSERT INTO confirmation ({', '.join(CONFIRMATION_COLUMNS)}) VALUES (?, ?, ?, ?)",
                [naive(r) for r in confirmations],
            )
            cursor.execute("COMMIT")
        finally:
            raw.close()
    totals["deliveries"] += len(deliveries)
    totals["confirmations"] += len(confirmations)
