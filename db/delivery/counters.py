"""Keeping ``post_opd_stat`` in step with deliveries and confirmations.

Every change that moves a participation number calls ``bump`` in its own transaction, so the
counters are exactly as durable as the facts. ``rebuild`` recomputes them from the facts (for
an upgrade, or to check them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Executable, Select, and_, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.delivery.confirmed import confirmed_by_delivery
from db.models import (
    Confirmation,
    ConfirmationKind,
    Delivery,
    DeliveryStatus,
    Post,
    PostOpdStat,
    table,
)
from db.reporting.window import Window

FIELDS = ("delivered", "liked", "shared", "participated", "opened")
Key = tuple[int, int]  # (post_id, opd_id)


def bump(session: Session, deltas: Mapping[Key, Mapping[str, int]]) -> None:
    """Add to the counters of each (post, opd), creating rows as needed, race-free."""
    rows = [
        {"post_id": p, "opd_id": o} | {f: int(d.get(f, 0)) for f in FIELDS}
        for (p, o), d in deltas.items()
        if any(d.get(f, 0) for f in FIELDS)
    ]
    if not rows:
        return
    # Sorted, so that two transactions touching the same rows lock them in the same order.
    session.connection().execute(
        _upsert(session.get_bind().dialect.name),
        sorted(rows, key=lambda r: (r["post_id"], r["opd_id"])),
    )


@cache
def _upsert(dialect: str) -> Executable:
    """The counters' upsert, built once per dialect: under a burst of taps, building it (its
    ``excluded`` alias above all) cost more CPU than running it for the batch."""
    stat = table(PostOpdStat)
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(stat)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[stat.c.post_id, stat.c.opd_id],
        set_={f: stat.c[f] + excluded[f] for f in FIELDS},
    )


def delivered_deltas(rows: Iterable[tuple[int, int]], sign: int = 1) -> dict[Key, Counter[str]]:
    deltas: dict[Key, Counter[str]] = {}
    for post_id, opd_id in rows:
        deltas.setdefault((post_id, opd_id), Counter())["delivered"] += sign
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
    """Recompute every counter from deliveries and confirmations; returns rows written."""
    stat = table(PostOpdStat)
    conn = session.connection()
    conn.execute(delete(stat))
    result = conn.execute(
        insert(stat)
        .from_select(["post_id", "opd_id", *FIELDS], fact_counts(["post_id", "opd_id"]))
        .execution_options(preserve_rowcount=True)
    )
    return int(result.rowcount)


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
