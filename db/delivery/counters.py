"""Keeping ``post_opd_stat`` and its per-day rollup ``opd_day_stat`` in step with deliveries
and confirmations.

Every change that moves a participation number calls ``bump`` in its own transaction, so the
counters are exactly as durable as the facts, and the rollup moves with them in the same
transaction (the tap, send and open paths need nothing more). ``rebuild`` recomputes both from
the facts (for an upgrade, or to check them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Executable,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.delivery.arrays import unnested
from db.delivery.confirmed import confirmed_by_delivery
from db.models import (
    Confirmation,
    ConfirmationKind,
    Delivery,
    DeliveryStatus,
    OpdDayStat,
    Post,
    PostOpdStat,
    table,
)
from db.reporting.window import Window

FIELDS = ("delivered", "liked", "shared", "participated", "opened")
Key = tuple[int, int]  # (post_id, opd_id)


def bump(session: Session, deltas: Mapping[Key, Mapping[str, int]]) -> None:
    """Add to the counters of each (post, opd) and to the day rollup of each (approval day,
    opd), creating rows as needed, race-free."""
    rows = [
        {"post_id": p, "opd_id": o} | {f: int(d.get(f, 0)) for f in FIELDS}
        for (p, o), d in deltas.items()
        if any(d.get(f, 0) for f in FIELDS)
    ]
    if not rows:
        return
    conn = session.connection()
    dialect = session.get_bind().dialect.name
    rows.sort(key=lambda r: (r["post_id"], r["opd_id"]))
    if dialect == "postgresql":  # one round trip, one SQL text for any number of rows
        conn.execute(_bump_arrays(), {f"{f}s": [r[f] for r in rows] for f in KEYED})
        return
    # Sorted, so that two transactions touching the same rows lock them in the same order:
    # the counters first, then (sorted by day, not by post: a post approved later may have a
    # smaller id) the rollup rows.
    conn.execute(_upsert(dialect, PostOpdStat), rows)
    ids = sorted({r["post_id"] for r in rows})
    days: dict[int, date] = {p: d for p, d in conn.execute(_approval_days(dialect), {"ids": ids})}
    per_day: dict[tuple[date, int], Counter[str]] = {}
    for row in rows:
        day = days.get(row["post_id"])
        if day is None:  # not approved: in no report window, so in no rollup either
            continue
        per_day.setdefault((day, row["opd_id"]), Counter()).update({f: row[f] for f in FIELDS})
    if per_day:
        conn.execute(
            _upsert(dialect, OpdDayStat),
            [
                {"day": d, "opd_id": o} | {f: c[f] for f in FIELDS}
                for (d, o), c in sorted(per_day.items())
            ],
        )


KEYED = ("post_id", "opd_id", *FIELDS)


@cache
def _bump_arrays() -> Executable:
    """``bump`` on PostgreSQL as one statement over arrays (one per column, ``<name>s``): the
    counters' upsert as a data-modifying CTE, then the rollup's, its days read from ``post`` in
    the same statement. Three round trips were a third of the cost of a failure status or a
    tap batch (issue 13). The rollup's rows are chosen only once the CTE has run to the end (an
    uncorrelated scalar subquery over its output, evaluated once before the first row), so
    the locks are taken in ``bump``'s order: the counters, then the rollup by (day, OPD)."""
    stat, post = table(PostOpdStat), table(Post)
    given = unnested({f: Integer() for f in KEYED}, suffix="s")
    counters = _upsert_from(PostOpdStat, select(given)).returning(stat.c.post_id).cte("counters")
    counted = select(func.count()).select_from(counters).scalar_subquery()
    day = approval_day("postgresql")
    per_day = (
        select(day, given.c.opd_id, *(func.sum(given.c[f]) for f in FIELDS))
        .select_from(given)
        .join(post, post.c.id == given.c.post_id)
        .where(post.c.approved_at.is_not(None), counted >= 0)
        .group_by(day, given.c.opd_id)
        .order_by(day, given.c.opd_id)
    )
    return _upsert_from(OpdDayStat, per_day).add_cte(counters)


def _upsert_from(
    model: type[PostOpdStat] | type[OpdDayStat], rows: Select[Any]
) -> postgresql.Insert:
    """A counters table's PostgreSQL upsert of the rows a SELECT gives (keys, then FIELDS)."""
    stat = table(model)
    keys = list(stat.primary_key.columns)
    stmt = postgresql.insert(stat).from_select([*(c.name for c in keys), *FIELDS], rows)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={f: stat.c[f] + stmt.excluded[f] for f in FIELDS}
    )


@cache
def _upsert(dialect: str, model: type[PostOpdStat] | type[OpdDayStat]) -> Executable:
    """A counters table's upsert, built once per dialect: under a burst of taps, building it
    (its ``excluded`` alias above all) cost more CPU than running it for the batch."""
    stat = table(model)
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(stat)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=list(stat.primary_key.columns),
        set_={f: stat.c[f] + excluded[f] for f in FIELDS},
    )


def approval_day(dialect: str) -> ColumnElement[date]:
    """The UTC date of ``post.approved_at``, the rollup's day, computed by the database."""
    approved_at = table(Post).c.approved_at
    if dialect == "postgresql":
        return cast(func.timezone("UTC", approved_at), Date)
    return type_coerce(func.date(approved_at), Date)  # SQLite keeps naive UTC text


@cache
def _approval_days(dialect: str) -> Select[Any]:
    post = table(Post)
    return select(post.c.id, approval_day(dialect)).where(
        post.c.id.in_(bindparam("ids", expanding=True)), post.c.approved_at.is_not(None)
    )


def day_counts(dialect: str) -> Select[Any]:
    """The rollup recomputed from the per post × OPD counters: what ``opd_day_stat`` must
    always equal (used to rebuild it, and by the tests that check it)."""
    stat, post = table(PostOpdStat), table(Post)
    day = approval_day(dialect)
    return (
        select(day, stat.c.opd_id, *(func.sum(stat.c[f]) for f in FIELDS))
        .select_from(stat)
        .join(post, post.c.id == stat.c.post_id)
        .where(post.c.approved_at.is_not(None))
        .group_by(day, stat.c.opd_id)
    )


def delivered_deltas(rows: Iterable[tuple[int, int]], sign: int = 1) -> dict[Key, Counter[str]]:
    deltas: dict[Key, Counter[str]] = {}
    for post_id, opd_id in rows:
        deltas.setdefault((post_id, opd_id), Counter())["delivered"] += sign
    return deltas


def withdrawn_deltas(
    session: Session, keys: Mapping[int, Key], opened: Iterable[int] = ()
) -> dict[Key, Counter[str]]:
    """What taking counted (sent) deliveries back out of the counters subtracts, for
    deliveries that fail after they were counted (``keys``: delivery → (post, OPD); ``opened``:
    those of them opened through the tracked link)."""
    deltas = delivered_deltas(keys.values(), -1)
    for delivery_id in opened:
        deltas[keys[delivery_id]]["opened"] -= 1
    for key, delta in confirmed_deltas(session, keys).items():
        deltas[key].subtract(delta)
    return deltas


def fact_counts(group: Sequence[str], window: Window | None = None) -> Select[Any]:
    """Counts straight from deliveries and confirmations, grouped by delivery columns: what
    the counters must always equal (used to rebuild them and as the benchmark's reference)."""
    delivery, post = table(Delivery), table(Post)
    like = table(Confirmation).alias("l")
    share = table(Confirmation).alias("s")
    keys = [delivery.c[name] for name in group]
    stmt = (
        select(
            *keys,
            func.count(),
            func.count(like.c.id),
            func.count(share.c.id),
            func.count(func.coalesce(like.c.id, share.c.id)),
            func.count(delivery.c.opened_at),
        )
        .select_from(delivery)
        .outerjoin(
            like, and_(like.c.delivery_id == delivery.c.id, like.c.kind == ConfirmationKind.LIKE)
        )
        .outerjoin(
            share,
            and_(share.c.delivery_id == delivery.c.id, share.c.kind == ConfirmationKind.SHARE),
        )
        .where(delivery.c.status == DeliveryStatus.SENT)
        .group_by(*keys)
    )
    if window is not None:
        stmt = stmt.join(post, post.c.id == delivery.c.post_id).where(
            post.c.approved_at >= window.start, post.c.approved_at < window.end
        )
    return stmt


def rebuild(session: Session) -> int:
    """Recompute every counter, and the day rollup, from deliveries and confirmations;
    returns the counter rows written."""
    stat = table(PostOpdStat)
    conn = session.connection()
    conn.execute(delete(stat))
    result = conn.execute(
        insert(stat)
        .from_select(["post_id", "opd_id", *FIELDS], fact_counts(["post_id", "opd_id"]))
        .execution_options(preserve_rowcount=True)
    )
    rebuild_days(session)
    return int(result.rowcount)


def rebuild_days(session: Session) -> None:
    """Recompute the day rollup from the per post × OPD counters."""
    days = table(OpdDayStat)
    conn = session.connection()
    conn.execute(delete(days))
    dialect = session.get_bind().dialect.name
    conn.execute(insert(days).from_select(["day", "opd_id", *FIELDS], day_counts(dialect)))


def confirmed_deltas(session: Session, keys: Mapping[int, Key]) -> dict[Key, Counter[str]]:
    """What the confirmations already on these deliveries add to the counters, for deliveries
    that become sent after they were tapped (``keys``: delivery → (post, OPD))."""
    deltas: dict[Key, Counter[str]] = {}
    for delivery_id, kinds in confirmed_by_delivery(session, list(keys)).items():
        if not kinds:
            continue
        delta = deltas.setdefault(keys[delivery_id], Counter())
        delta["liked"] += int(ConfirmationKind.LIKE in kinds)
        delta["shared"] += int(ConfirmationKind.SHARE in kinds)
        delta["participated"] += 1
    return deltas
