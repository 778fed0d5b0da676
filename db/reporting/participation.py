"""The participation table Diskominfo reads, with the contract's exact definitions.

For posts approved in ``[start, end)``, per OPD (of the ASN when the post was sent):
``delivered`` = deliveries the channel accepted and did not later report failed; ``liked``,
``shared`` = those with that self-reported confirmation; ``participated`` = with either. Roster
and registration counts are as of now. The total row sums counts, never averages rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Literal

from sqlalchemy import Date, Select, Table, and_, bindparam, case, func, select, union_all
from sqlmodel import Session

from db.delivery.counters import FIELDS, fact_counts
from db.errors import Invalid
from db.models import (
    Asn,
    AsnStatus,
    ChatIdentity,
    Confirmation,
    ConfirmationKind,
    Delivery,
    DeliveryStatus,
    Opd,
    OpdDayStat,
    Post,
    PostOpdStat,
    table,
)
from db.reporting.window import Window
from db.types import UTCDateTime


@dataclass
class Counts:
    asn_roster: int = 0
    asn_registered: int = 0
    delivered: int = 0
    liked: int = 0
    shared: int = 0
    participated: int = 0
    opened: int = 0  # measured: deliveries whose tracked link was opened
    # Issue 15: shares whose ASN also sent the link of their repost (still self-reported).
    shared_with_evidence: int = 0

    @property
    def registration_rate(self) -> float:
        return _rate(self.asn_registered, self.asn_roster)

    @property
    def participation_rate(self) -> float:
        return _rate(self.participated, self.delivered)

    def add(self, other: Counts) -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "asn_roster": self.asn_roster,
            "asn_registered": self.asn_registered,
            "registration_rate": round(self.registration_rate, 3),
            "delivered": self.delivered,
            "liked": self.liked,
            "shared": self.shared,
            "participated": self.participated,
            "participation_rate": round(self.participation_rate, 3),
            "opened": self.opened,
            "shared_with_evidence": self.shared_with_evidence,
        }


# The counts in the order of the report's columns (the statement's too), named once: above.
COUNT_FIELDS = tuple(f.name for f in fields(Counts))


@dataclass
class OpdRow:
    kode: str
    nama: str
    counts: Counts


@dataclass
class Participation:
    window: Window | None
    rows: list[OpdRow]
    total: Counts = field(default_factory=Counts)
    # The OPDs the report was narrowed to (None: every OPD), so that what is read beside it
    # (WhatsApp billing) can take the same scope without naming all 58 OPDs again.
    opd_ids: list[int] | None = None


# What each number is: measured by Gaung or the channel, or confirmed by the ASN themselves.
LABELS = {
    "delivered": "diukur",
    "opened": "diukur",
    "liked": "dikonfirmasi sendiri",
    "shared": "dikonfirmasi sendiri",
    "participated": "dikonfirmasi sendiri",
    "shared_with_evidence": "dikonfirmasi sendiri",
}


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def participation(
    session: Session,
    window: Window | None,
    *,
    opd_ids: Sequence[int] | None = None,
    post_id: int | None = None,
    status: str | None = None,
) -> Participation:
    """One statement: per OPD, the roster and registration counts, the per-post counters and
    the share evidence, each an aggregate subquery joined to ``opd``.

    This runs on every dashboard and API read, so it stays lean: Core rows rather than ORM
    objects, roster and registration counted in one pass over ``asn``, an OPD key's request
    narrowed to its OPD in SQL, and one round trip instead of four (issue 11: on a loaded
    machine each statement costs a wait for the database's answer and for the CPU back). The
    statement is built once per shape with bind parameters (building it anew cost a few
    milliseconds of CPU per request, more than the month's counters).

    ``status`` (``PNS`` or ``PPPK``) narrows every number to ASN of that status, as the roster
    says now. The counters do not know a person's status, so the delivery numbers are then
    read from deliveries (slower, still indexed by post); deliveries no longer linked to a
    person (erased, or past retention) belong to neither status, so the two splits can add up
    to less than the whole.
    """
    status = check_status(status)
    stmt = _report(window is not None, opd_ids is not None, post_id is not None, status)
    params: dict[str, Any] = Bounds.of(window).params() if window is not None else {}
    if opd_ids is not None:
        params["opd_ids"] = list(opd_ids)
    if post_id is not None:
        params["post_id"] = post_id
    result = session.connection().execute(stmt, params).all()
    numbers = [[int(n or 0) for n in row[2:]] for row in result]
    rows = [OpdRow(row[0], row[1], Counts(*n)) for row, n in zip(result, numbers, strict=True)]
    # The total row: each column summed once, not 58 ``Counts.add`` calls (issue 11).
    total = Counts(*(sum(column) for column in zip(*numbers, strict=True))) if numbers else Counts()
    return Participation(window, rows, total, None if opd_ids is None else list(opd_ids))


@dataclass(frozen=True)
class Bounds:
    """A window as the report reads it: posts approved in ``[start, end)``; per OPD, those of
    the whole UTC days ``[first_day, end_day)`` from the day rollup, the others (approved in
    ``[start, first_midnight)`` or ``[end_midnight, end)``) post by post. Values (``of``), or
    the bind parameters (``BOUND``) of a statement built once."""

    start: Any
    end: Any
    first_day: Any
    end_day: Any
    first_midnight: Any
    end_midnight: Any

    @classmethod
    def of(cls, window: Window) -> Bounds:
        days = whole_days(window)
        if days is None:  # no whole day: none from the rollup, all post by post
            day = window.start.astimezone(UTC).date()
            return cls(window.start, window.end, day, day, window.end, window.end)
        first, end = days
        return cls(window.start, window.end, first, end, _midnight(first), _midnight(end))

    def params(self) -> dict[str, Any]:
        return {f"w_{f.name}": getattr(self, f.name) for f in fields(self)}


BOUND = Bounds(
    *(
        bindparam(f"w_{f.name}", type_=Date() if f.name.endswith("day") else UTCDateTime())
        for f in fields(Bounds)
    )
)


@cache
def _report(windowed: bool, some_opd: bool, one_post: bool, status: str | None) -> Select[Any]:
    """The participation statement of one shape, its values left to bind parameters: ``w_*``
    (``Bounds.params``), ``opd_ids`` (expanding) and ``post_id``. ``status`` is one of two
    values, so it is part of the shape."""
    opd, asn, identity = table(Opd), table(Asn), table(ChatIdentity)
    bounds = BOUND if windowed else None
    opd_ids: Any = bindparam("opd_ids", expanding=True) if some_opd else None
    post_id: Any = bindparam("post_id") if one_post else None

    # Registered: not opted out, and linked to at least one reachable chat identity (an ASN
    # may have one on each channel: a semi-join, so that she counts once).
    reachable = select(identity.c.asn_id).where(identity.c.reachable.is_(True))
    registered = and_(asn.c.opted_out_at.is_(None), asn.c.id.in_(reachable))
    people = (
        select(asn.c.opd_id, func.count(), func.count(case((registered, 1))))
        .where(asn.c.active.is_(True))
        .group_by(asn.c.opd_id)
    )
    if opd_ids is not None:
        people = people.where(asn.c.opd_id.in_(opd_ids))
    if status is not None:
        people = people.where(asn.c.status == status)
    sums = (
        _counter_sums(bounds, post_id, opd_ids)
        if status is None
        else _status_delivery_sums(bounds, post_id, opd_ids, status)
    )
    evidence = _evidence_sums(bounds, post_id, opd_ids, status)
    # Each part's first column is the OPD id, the rest its counts, in COUNT_FIELDS order.
    parts = [q.subquery(name) for name, q in (("p", people), ("c", sums), ("e", evidence))]
    stmt = select(opd.c.kode, opd.c.nama, *(c for part in parts for c in list(part.c)[1:]))
    stmt = stmt.select_from(opd)
    for part in parts:
        stmt = stmt.outerjoin(part, next(iter(part.c)) == opd.c.id)
    stmt = stmt.order_by(opd.c.kode)
    if opd_ids is not None:
        stmt = stmt.where(opd.c.id.in_(opd_ids))
    return stmt


def counter_sums(
    window: Window | None,
    post_id: int | None = None,
    opd_ids: Sequence[int] | None = None,
    *,
    per: Literal["opd", "post"] = "opd",
) -> Select[Any]:
    """Sums of the per post × OPD counters (``db.delivery.counters``), for posts approved in the
    window, per OPD (the participation table) or per post with its approval time (the trend): one
    window rule for both, so the trend always adds up to the table.

    Per OPD, the window's whole UTC days are read from the day rollup (``opd_day_stat``) and
    only the posts approved in its partial first and last days from the counters: about 21
    thousand rows for a year instead of 63 thousand joined to their posts (issue 11).
    """
    bounds = Bounds.of(window) if window is not None else None
    return _counter_sums(bounds, post_id, opd_ids, per=per)


def _counter_sums(
    bounds: Bounds | None,
    post_id: Any,
    opd_ids: Any,
    *,
    per: Literal["opd", "post"] = "opd",
) -> Select[Any]:
    if per == "opd" and post_id is None:
        return _opd_sums(bounds, opd_ids)
    stat, post = table(PostOpdStat), table(Post)
    keys = [stat.c.opd_id] if per == "opd" else [post.c.id, post.c.approved_at]
    stmt = (
        select(keys[-1], *(func.sum(stat.c[f]) for f in FIELDS))
        .select_from(stat)
        .join(post, post.c.id == stat.c.post_id)
        .group_by(*keys)
    )
    return _in_scope(stmt, stat, bounds, post_id, opd_ids)


def _in_scope(
    stmt: Select[Any], facts: Table, bounds: Bounds | None, post_id: Any, opd_ids: Any
) -> Select[Any]:
    """A report's scope on a statement over ``facts`` (a table with ``post_id`` and
    ``opd_id``; joined to ``post`` when there is a window): posts approved in the window, the
    one post, the OPDs asked for."""
    if bounds is not None:
        post = table(Post)
        stmt = stmt.where(post.c.approved_at >= bounds.start, post.c.approved_at < bounds.end)
    if post_id is not None:
        stmt = stmt.where(facts.c.post_id == post_id)
    if opd_ids is not None:
        stmt = stmt.where(facts.c.opd_id.in_(opd_ids))
    return stmt


def _opd_sums(bounds: Bounds | None, opd_ids: Any) -> Select[Any]:
    """``counter_sums`` per OPD: whole days from the rollup, the edges from the counters (one
    shape for every window: a part with nothing to read is an empty range)."""
    rollup, stat, post = table(OpdDayStat), table(PostOpdStat), table(Post)
    whole = select(rollup.c.opd_id, *(rollup.c[f] for f in FIELDS))
    parts = [whole]
    if bounds is not None:
        parts = [whole.where(rollup.c.day >= bounds.first_day, rollup.c.day < bounds.end_day)]
        for start, end in (
            (bounds.start, bounds.first_midnight),
            (bounds.end_midnight, bounds.end),
        ):
            parts.append(
                select(stat.c.opd_id, *(stat.c[f] for f in FIELDS))
                .join(post, post.c.id == stat.c.post_id)
                .where(post.c.approved_at >= start, post.c.approved_at < end)
            )
    if opd_ids is not None:
        parts = [part.where(part.selected_columns[0].in_(opd_ids)) for part in parts]
    rows = union_all(*parts).subquery("r") if len(parts) > 1 else parts[0].subquery("r")
    return select(rows.c.opd_id, *(func.sum(rows.c[f]) for f in FIELDS)).group_by(rows.c.opd_id)


def whole_days(window: Window) -> tuple[date, date] | None:
    """The UTC days lying wholly inside the window, as ``[first, end)``; None if there are
    none."""
    first = window.start.astimezone(UTC).date()
    if _midnight(first) < window.start:
        first += timedelta(days=1)
    end = window.end.astimezone(UTC).date()
    return (first, end) if first < end else None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _evidence_sums(
    bounds: Bounds | None, post_id: Any, opd_ids: Any, status: str | None
) -> Select[Any]:
    """Delivered shares with a repost link (``db.delivery.evidence``), per OPD, for posts
    approved in the window. Read from the few confirmations that carry evidence, not from the
    counters.

    Shaped so that both engines start from those few rows, with or without statistics (SQLite
    has none unless someone runs ANALYZE, and Gaung does not): the confirmations are found by
    id through ``ix_confirmation_evidence_at`` (a covering read), their deliveries by primary
    key. Joined the plain way, SQLite walked every delivery through ``ix_delivery_due``
    (``status = 'sent'`` looks selective to it) and a month's report took seconds; comparing
    ``coalesce(status, '')`` (the column is never NULL) keeps that index out of its reach."""
    confirmation, delivery, post = table(Confirmation), table(Delivery), table(Post)
    with_evidence = select(confirmation.c.id).where(confirmation.c.evidence_at.is_not(None))
    shares = select(confirmation.c.delivery_id).where(
        confirmation.c.id.in_(with_evidence), confirmation.c.kind == ConfirmationKind.SHARE
    )
    stmt = (
        select(delivery.c.opd_id, func.count())
        .select_from(delivery)
        .join(post, post.c.id == delivery.c.post_id)
        .where(
            delivery.c.id.in_(shares),
            func.coalesce(delivery.c.status, "") == DeliveryStatus.SENT,
        )
        .group_by(delivery.c.opd_id)
    )
    stmt = _in_scope(stmt, delivery, bounds, post_id, opd_ids)
    if status is not None:
        asn = table(Asn)
        stmt = stmt.join(asn, asn.c.id == delivery.c.asn_id).where(asn.c.status == status)
    return stmt


def check_status(status: str | None) -> str | None:
    if status is None or not status.strip():
        return None
    clean = status.strip().upper()
    if clean not in AsnStatus.__members__:
        raise Invalid(f"status harus PNS atau PPPK, bukan {status!r}")
    return clean


def _status_delivery_sums(
    bounds: Bounds | None, post_id: Any, opd_ids: Any, status: str
) -> Select[Any]:
    """``counter_sums`` per OPD for ASN of one status, from the deliveries themselves."""
    asn, delivery, post = table(Asn), table(Delivery), table(Post)
    stmt = (
        fact_counts(["opd_id"])
        .join(asn, asn.c.id == delivery.c.asn_id)
        .join(post, post.c.id == delivery.c.post_id)
        .where(asn.c.status == status)
    )
    return _in_scope(stmt, delivery, bounds, post_id, opd_ids)


def plain_delivery_counts(window: Window) -> Select[Any]:
    """The same numbers straight from deliveries and confirmations (the reference)."""
    return fact_counts(["opd_id"], window)


def asn_summary(session: Session, asn_id: int, window: Window) -> tuple[int, int, int]:
    """One ASN's own record for ``/status``: deliveries received, likes and shares reported."""
    delivery, post, confirmation = table(Delivery), table(Post), table(Confirmation)
    in_window = and_(
        delivery.c.asn_id == asn_id,
        delivery.c.status == DeliveryStatus.SENT,
        post.c.approved_at >= window.start,
        post.c.approved_at < window.end,
    )
    delivered = (
        session.connection()
        .execute(
            select(func.count())
            .select_from(delivery)
            .join(post, post.c.id == delivery.c.post_id)
            .where(in_window)
        )
        .scalar_one()
    )
    kinds: dict[str, int] = dict(
        session.connection()
        .execute(
            select(confirmation.c.kind, func.count())
            .select_from(confirmation)
            .join(delivery, delivery.c.id == confirmation.c.delivery_id)
            .join(post, post.c.id == delivery.c.post_id)
            .where(in_window)
            .group_by(confirmation.c.kind)
        )
        .all()
    )
    return int(delivered), int(kinds.get("like", 0)), int(kinds.get("share", 0))
