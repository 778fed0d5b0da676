"""A realistic year, fast: 8,000 ASN in 58 OPD, 3 posts a day, every delivery and confirmation.

The rows are exactly what the app would have recorded (the bench cross-checks the counters
against a plain join over them), but they are written the way a bulk load is, not one request
at a time (1,607 s on durable PostgreSQL before; a few minutes now):

- generated in Python with each post's timestamps formatted once, not once per row, and written
  as PostgreSQL ``COPY`` text or SQLite ``executemany`` over plain strings, in transactions of
  hundreds of thousands of rows;
- with the secondary indexes and foreign keys of ``delivery`` and ``confirmation`` dropped for
  the load and recreated after it from the database's own definitions (so the schema ends
  exactly as the migrations made it), which also checks every foreign key once: PostgreSQL
  validates a re-added constraint, and SQLite's ``PRAGMA foreign_key_check`` must find nothing;
- with the per post × OPD counters summed while generating, as the app keeps them.

Deterministic per seed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from db.delivery.counters import rebuild_days
from db.engine import session_scope
from db.models import ChatIdentity, Delivery, Post, PostOpdStat, table
from db.roster.synthetic import import_synthetic_roster

POSTS_PER_DAY = 3
CHUNK = 400_000  # deliveries per transaction
LOADED = ("delivery", "confirmation")
DELIVERY_COLUMNS = (
    "id",
    "post_id",
    "asn_id",
    "opd_id",
    "identity_id",
    "channel",
    "status",
    "attempts",
    "message_id",
    "sent_at",
    "created_at",
)
CONFIRMATION_COLUMNS = ("delivery_id", "kind", "channel", "created_at")


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
        people = [tuple(r) for r in conn.execute(text("SELECT id, opd_id FROM asn ORDER BY id"))]
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
        identity_of = {
            int(a): int(i) for a, i in conn.execute(text("SELECT asn_id, id FROM chat_identity"))
        }

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
        post_ids = [int(i) for i in conn.execute(text("SELECT id FROM post ORDER BY id")).scalars()]
    log(f"posts: {len(post_ids)}")

    # Who receives a post: every ASN, each with the chance she takes part.
    audience = [(a, o, identity_of[a], person_rate[a]) for a, o in people]
    counters: dict[tuple[int, int], list[int]] = {}
    totals = {"deliveries": 0, "confirmations": 0}
    when = _time_format(engine)
    postgres = engine.dialect.name == "postgresql"
    with _bulk_load(engine, log) as write:
        first = next_id = _next_id(engine, "delivery")
        deliveries: list[Any] = []
        confirmations: list[Any] = []
        for post_id, row in zip(post_ids, posts, strict=True):
            sent_at = row["approved_at"] + timedelta(minutes=3)
            sent = when(sent_at)
            liked_at = when(sent_at + timedelta(minutes=20))
            shared_at = when(sent_at + timedelta(minutes=25))
            for asn_id, opd_id, identity_id, p in audience:
                delivery_id = next_id
                next_id += 1
                c = counters.get((post_id, opd_id))
                if c is None:
                    c = counters[(post_id, opd_id)] = [0, 0, 0, 0]
                c[0] += 1
                liked = rng.random() < p
                shared = rng.random() < p * 0.6
                if postgres:
                    deliveries.append(
                        f"{delivery_id}\t{post_id}\t{asn_id}\t{opd_id}\t{identity_id}\t"
                        f"telegram\tsent\t1\tm{delivery_id}\t{sent}\t{sent}\n"
                    )
                    if liked:
                        confirmations.append(f"{delivery_id}\tlike\ttelegram\t{liked_at}\n")
                    if shared:
                        confirmations.append(f"{delivery_id}\tshare\ttelegram\t{shared_at}\n")
                else:
                    deliveries.append(
                        (
                            delivery_id,
                            post_id,
                            asn_id,
                            opd_id,
                            identity_id,
                            "telegram",
                            "sent",
                            1,
                            f"m{delivery_id}",
                            sent,
                            sent,
                        )
                    )
                    if liked:
                        confirmations.append((delivery_id, "like", "telegram", liked_at))
                    if shared:
                        confirmations.append((delivery_id, "share", "telegram", shared_at))
                if liked:
                    c[1] += 1
                if shared:
                    c[2] += 1
                if liked or shared:
                    c[3] += 1
            if len(deliveries) >= CHUNK:
                write(deliveries, confirmations)
                totals["deliveries"] += len(deliveries)
                totals["confirmations"] += len(confirmations)
                deliveries, confirmations = [], []
                log(f"  {totals['deliveries']:,} deliveries ({time.perf_counter() - began:.0f} s)")
        write(deliveries, confirmations)
        totals["deliveries"] += len(deliveries)
        totals["confirmations"] += len(confirmations)
        assert next_id - first == totals["deliveries"]
    log(f"loaded, indexes and foreign keys back ({time.perf_counter() - began:.0f} s)")
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
        rebuild_days(session)  # the day rollup, as ``bump`` would have kept it
    if postgres:
        with engine.connect() as conn:
            conn.execute(text("SELECT setval('delivery_id_seq', (SELECT max(id) FROM delivery))"))
            conn.commit()
        # What autovacuum does to a year of inserts in production (PostgreSQL 13+ vacuums
        # insert-only tables too): statistics, and a visibility map for index-only scans.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    # SQLite keeps no statistics unless ANALYZE runs, and Gaung never runs it: the seeded file
    # is left without, as a deployment's would be, so the queries are measured as they plan
    # there. (Before issue 11 the seed ran ANALYZE in a transaction it never committed.)
    log(f"seeded in {time.perf_counter() - began:.0f} s: {totals}")
    return totals | {"posts": len(post_ids), "asn": len(people)}


def _time_format(engine: Engine) -> Callable[[datetime], str]:
    """A timestamp as the database stores it: ISO text for ``COPY`` into ``timestamptz``, or
    the exact string SQLAlchemy writes on SQLite (through the column type's own processor)."""
    if engine.dialect.name == "postgresql":
        return datetime.isoformat
    processor = table(Delivery).c.sent_at.type.bind_processor(engine.dialect)
    assert processor is not None
    return lambda value: str(processor(value))


def _next_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {name}")).scalar_one())


Writer = Callable[[list[Any], list[Any]], None]


@contextmanager
def _bulk_load(engine: Engine, log: Any) -> Iterator[Writer]:
    """One connection that writes chunks of deliveries and confirmations, with the tables'
    secondary indexes and foreign keys out of the way until the load is done."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            yield from _postgresql_load(raw, cursor, log)
        else:
            yield from _sqlite_load(raw, cursor, log)
    finally:
        raw.close()


def _postgresql_load(raw: Any, cursor: Any, log: Any) -> Iterator[Writer]:
    names = ", ".join(f"'{t}'" for t in LOADED)
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE contype = 'f' AND conrelid::regclass::text IN ({names}) ORDER BY conname"
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        f"AND tablename IN ({names}) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname"
    )
    indexes = cursor.fetchall()
    for table_name, name, _ in foreign_keys:
        cursor.execute(f'ALTER TABLE {table_name} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    raw.commit()

    def write(deliveries: list[Any], confirmations: list[Any]) -> None:
        for name, columns, rows in (
            ("delivery", DELIVERY_COLUMNS, deliveries),
            ("confirmation", CONFIRMATION_COLUMNS, confirmations),
        ):
            with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                for start in range(0, len(rows), 10_000):
                    copy.write("".join(rows[start : start + 10_000]))
        raw.commit()

    yield write
    began = time.perf_counter()
    cursor.execute("SET maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cursor.execute(definition)
    for table_name, name, definition in foreign_keys:  # validated against the loaded rows
        cursor.execute(f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}')
    raw.commit()
    log(f"indexes and foreign keys rebuilt in {time.perf_counter() - began:.0f} s")


def _sqlite_load(raw: Any, cursor: Any, log: Any) -> Iterator[Writer]:
    # The engine's connections are in autocommit mode (``db.engine`` emits BEGIN itself), so
    # each chunk is one explicit transaction; PRAGMA foreign_keys is set outside any.
    cursor.execute("PRAGMA foreign_keys = OFF")
    names = ", ".join(f"'{t}'" for t in LOADED)
    indexes = cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({names}) ORDER BY name"
    ).fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')

    def write(deliveries: list[Any], confirmations: list[Any]) -> None:
        cursor.execute("BEGIN")
        for name, columns, rows in (
            ("delivery", DELIVERY_COLUMNS, deliveries),
            ("confirmation", CONFIRMATION_COLUMNS, confirmations),
        ):
            marks = ", ".join("?" * len(columns))
            cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
        cursor.execute("COMMIT")

    yield write
    began = time.perf_counter()
    for _, definition in indexes:
        cursor.execute(definition)
    for name in LOADED:
        broken = cursor.execute(f"PRAGMA foreign_key_check({name})").fetchall()
        if broken:
            raise AssertionError(f"{name}: rows without their parent: {broken[:5]}")
    cursor.execute("PRAGMA foreign_keys = ON")
    log(f"indexes rebuilt, foreign keys checked in {time.perf_counter() - began:.0f} s")
