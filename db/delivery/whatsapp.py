"""WhatsApp's delivery truth and limits: the messaging-limit tier, status webhooks, the bill.

Meta accepts a message before it knows whether it will arrive: a free-form message outside
the 24-hour window, or one to a number not on WhatsApp, is answered 200 and fails later by
status webhook. So a delivery recorded ``sent`` from the send's answer is corrected here when a
``failed`` status arrives (its counters move back), and what Meta says it billed (the status's
``pricing``) is kept per delivery, so the report shows cost actually billed.

The messaging-limit tier counts *unique users reached outside a window per moving 24 hours*;
``template_at`` on a delivery says its recipient was so reached, and ``reserve_reach`` admits
one more only while the count is under the configured cap (``GAUNG_WHATSAPP_DAILY_LIMIT``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Executable,
    Row,
    Select,
    String,
    any_,
    bindparam,
    func,
    text,
    tuple_,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from db.delivery.arrays import unnested
from db.delivery.counters import bump, withdrawn_deltas
from db.delivery.inbox import store_updates, store_updates_and_read
from db.delivery.outbox import ended_by_id, reachable_identity_subquery
from db.models import (
    AdminIdentity,
    Asn,
    ChatIdentity,
    Delivery,
    DeliveryStatus,
    Opd,
    Post,
    PostStatus,
    table,
)
from db.types import UTCDateTime, utcnow

CHANNEL = "whatsapp"
WINDOW = timedelta(hours=24)
REACH_LOCK = 0x6761756E  # PostgreSQL advisory lock serialising tier reservations ("gaun")
NOT_ON_WHATSAPP = 131026  # the number cannot be reached at all: stop sending there


def reserve_reach(
    session: Session, delivery_id: int, *, limit: int, now: datetime | None = None
) -> datetime | None:
    """Count this delivery's recipient as reached outside a window, if the tier allows.

    Returns None when the template may go (the recipient is counted, or already was within
    24 h), else the moment a slot frees: the delivery waits until then, visibly deferred.
    Reservations are serialised (PostgreSQL advisory lock; SQLite's single writer) so several
    workers never admit more than the cap together.
    """
    return reserve_reach_many(session, [delivery_id], limit=limit, now=now)[delivery_id]


def last_inbound_of(session: Session, chat_id: str) -> datetime | None:
    """When the WhatsApp user at ``chat_id`` last wrote to the number (None: never, or not
    known here): whether free-form text can still reach them or only a template can."""
    identity = table(ChatIdentity)
    rows = session.connection().execute(
        core_select(identity.c.last_inbound_at).where(
            identity.c.channel == CHANNEL,
            (identity.c.chat_id == chat_id) | (identity.c.external_id == chat_id),
        )
    )
    admin = table(AdminIdentity)
    admins = session.connection().execute(
        core_select(admin.c.last_inbound_at).where(
            admin.c.channel == CHANNEL,
            (admin.c.chat_id == chat_id) | (admin.c.external_id == chat_id),
        )
    )
    times = [moment for (moment,) in [*rows, *admins] if moment is not None]
    return max(times) if times else None


def reserve_reach_many(
    session: Session, delivery_ids: Sequence[int], *, limit: int, now: datetime | None = None
) -> dict[int, datetime | None]:
    """``reserve_reach`` for many deliveries in one transaction, admitted in the given order.

    A broadcast at 80/s (1,000/s after the upgrade) cannot afford one durable commit and one
    count of today's reach per template: the tier's sender gathers the reservations of the
    moment and asks here once (one lock, one count, one UPDATE). Same answers as asking one
    by one in that order: None to send, else when a slot frees.
    """
    now = now or utcnow()
    if not delivery_ids:
        return {}
    delivery = table(Delivery)
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": REACH_LOCK})
    conn = session.connection()
    ids = list(dict.fromkeys(delivery_ids))
    identity_of = dict(
        conn.execute(
            core_select(delivery.c.id, delivery.c.identity_id).where(delivery.c.id.in_(ids))
        ).all()
    )
    since = now - WINDOW
    in_window = (delivery.c.channel == CHANNEL) & (delivery.c.template_at > since)
    recent = (
        core_select(delivery.c.identity_id, func.max(delivery.c.template_at).label("last"))
        .where(in_window)
        .group_by(delivery.c.identity_id)
        .subquery()
    )
    wanted = {i for i in identity_of.values() if i is not None}
    reached_set: set[int] = set()
    if wanted:  # straight on the rows (not through the grouped subquery): an index lookup
        reached_set = {
            int(i)
            for (i,) in conn.execute(
                core_select(delivery.c.identity_id)
                .distinct()
                .where(in_window, delivery.c.identity_id.in_(wanted))
            )
        }
    reached = int(
        conn.execute(
            core_select(func.count(func.distinct(delivery.c.identity_id))).where(in_window)
        ).scalar_one()
    )
    oldest: datetime | None = None
    answers: dict[int, datetime | None] = {}
    admitted: list[int] = []
    for delivery_id in ids:
        identity_id = identity_of.get(delivery_id)
        if identity_id is None or identity_id not in reached_set:
            if reached >= limit:
                if oldest is None:
                    oldest = conn.execute(core_select(func.min(recent.c.last))).scalar_one()
                answers[delivery_id] = (oldest or now) + WINDOW
                continue
            reached += 1
            if identity_id is not None:
                reached_set.add(identity_id)
        admitted.append(delivery_id)
        answers[delivery_id] = None
    if admitted:
        conn.execute(update(delivery).where(delivery.c.id.in_(admitted)).values(template_at=now))
    return answers


def reached_today(session: Session, *, now: datetime | None = None) -> int:
    """Unique recipients reached outside a window in the last 24 hours."""
    delivery = table(Delivery)
    since = (now or utcnow()) - WINDOW
    return int(
        session.connection()
        .execute(
            core_select(func.count(func.distinct(delivery.c.identity_id))).where(
                delivery.c.channel == CHANNEL, delivery.c.template_at > since
            )
        )
        .scalar_one()
    )


@dataclass(frozen=True)
class StatusUpdate:
    """One status webhook about one of our deliveries (found by its tracker)."""

    delivery_id: int
    status: str  # sent, delivered, read, failed
    error_code: int | None = None
    error: str | None = None
    billable: bool | None = None
    category: str | None = None


_DELIVERY = table(Delivery)
_IDENTITY = table(ChatIdentity)
# Built once: a burst of status webhooks runs them for every batch of the inbox's writer.
_PRICE = (
    update(_DELIVERY)
    .where(_DELIVERY.c.id == bindparam("d_id"))
    .values(billable=bindparam("b"), pricing_category=bindparam("c"))
)
_FAIL = ended_by_id(
    DeliveryStatus.FAILED,
    failed_at=bindparam("at"),
    error=bindparam("reason"),
    failure_kind=None,
    billable=False,
)
_UNREACHABLE = (
    update(_IDENTITY)
    .where(_IDENTITY.c.id == bindparam("i_id"))
    .values(reachable=False, unreachable_reason=bindparam("reason"), unreachable_at=bindparam("at"))
)


@cache
def _status_rows(dialect: str) -> Select[Any]:
    """The deliveries of a batch, locked in id order. PostgreSQL gets the ids as one array
    (``= ANY``): one SQL text for every batch size, converted and planned once, where an
    expanded ``IN`` list made a new text per size."""
    if dialect == "postgresql":
        wanted = _DELIVERY.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(BigInteger)))
    else:
        wanted = _DELIVERY.c.id.in_(bindparam("ids", expanding=True))
    columns = ("id", "status", "billable", "pricing_category", "post_id", "opd_id")
    return (
        core_select(*(_DELIVERY.c[name] for name in columns))
        .add_columns(_DELIVERY.c.identity_id, _DELIVERY.c.opened_at)
        .where(wanted, _DELIVERY.c.channel == CHANNEL)
        .order_by(_DELIVERY.c.id)
        .with_for_update()
    )


@cache
def _price_arrays() -> Executable:
    """PostgreSQL's pricing of a batch as one UPDATE over arrays: run as executemany, each
    row was a statement of its own for the server to execute (issue 13)."""
    given = unnested({"d_id": BigInteger(), "paid": Boolean(), "kind": String()})
    return (
        update(_DELIVERY)
        .where(_DELIVERY.c.id == given.c.d_id)
        .values(billable=given.c.paid, pricing_category=given.c.kind)
    )


def store_statuses(
    session: Session,
    channel: str,
    updates: Sequence[tuple[str, dict[str, Any] | None]],
    statuses: Sequence[tuple[str, StatusUpdate]],
) -> set[str]:
    """Store a batch of WhatsApp inbox ``updates`` and apply the ``statuses`` among them
    (update id, status) that were new (``apply_statuses``): returns the ids that were new.

    On PostgreSQL the inbox insert, the lock of the statuses' deliveries and their pricing
    are one statement (``store_updates_and_read``): two round trips less per batch of the
    inbox writer, whose batch's latency bound the rate of a burst (issue 13). The lock takes
    every delivery the batch names, a redelivered status's too (harmless; which are new is
    not known before the insert answers), and so does the pricing: it only ever adds
    (billable or not; the category, unless none is given), so a redelivered status's pricing,
    recorded already with its first copy, changes nothing (unless a later status of the same
    message had named another category: Meta keeps one category per message). A delivery
    with a ``failed`` status in the batch is not priced: it fails (unbilled) in this
    transaction, or failed before.
    """
    if session.get_bind().dialect.name != "postgresql" or not statuses:
        new = store_updates(session, channel, updates)
        apply_statuses(session, _fresh(statuses, new))
        return new
    ids = sorted({s.delivery_id for _, s in statuses if s.delivery_id})
    failing = {s.delivery_id for _, s in statuses if s.status == "failed"}
    pricing: dict[int, list[Any]] = {}
    for _, item in statuses:
        if item.delivery_id and item.delivery_id not in failing and item.billable is not None:
            paid, kind = pricing.setdefault(item.delivery_id, [False, None])
            pricing[item.delivery_id] = [paid or item.billable, item.category or kind]
    params = {
        "ids": ids,
        "p_id": list(pricing),
        "p_paid": [paid for paid, _ in pricing.values()],
        "p_kind": [kind for _, kind in pricing.values()],
    }
    new, rows = store_updates_and_read(session, channel, updates, _store_and_price(), params)
    _expire(session, Delivery, pricing, ["billable", "pricing_category"])
    locked = {int(row.id): row for row in rows}
    apply_statuses(session, _fresh(statuses, new), locked=locked, priced=True)
    return new


@cache
def _store_and_price() -> Select[Any]:
    """``store_statuses``'s read on PostgreSQL: the batch's deliveries locked in id order (as
    ``apply_statuses`` reads them), and with it (a data-modifying CTE) their pricing from
    arrays, as ``apply_statuses`` prices them: billable once any status says so, the last
    category given. The update goes through the locked rows, so it takes no lock of its own
    out of order, and writes only a row whose pricing changes."""
    locked = _status_rows("postgresql").cte("status_row")
    given = unnested({"p_id": BigInteger(), "p_paid": Boolean(), "p_kind": String()})
    paid = func.coalesce(_DELIVERY.c.billable, False) | given.c.p_paid
    kind = func.coalesce(given.c.p_kind, _DELIVERY.c.pricing_category)
    priced = (
        update(_DELIVERY)
        .where(
            _DELIVERY.c.id == locked.c.id,
            given.c.p_id == locked.c.id,
            locked.c.status != DeliveryStatus.FAILED.value,
            tuple_(_DELIVERY.c.billable, _DELIVERY.c.pricing_category).is_distinct_from(
                tuple_(paid, kind)
            ),
        )
        .values(billable=paid, pricing_category=kind)
        .cte("priced")
    )
    return core_select(*locked.c).add_cte(priced)


def _fresh(statuses: Sequence[tuple[str, StatusUpdate]], new: set[str]) -> list[StatusUpdate]:
    """The statuses whose update was new, each once (a second copy in a batch is a
    redelivery), in their order."""
    seen: set[str] = set()
    fresh = []
    for update_id, status in statuses:
        if update_id in new and update_id not in seen:
            seen.add(update_id)
            fresh.append(status)
    return fresh


def apply_statuses(
    session: Session,
    updates: Iterable[StatusUpdate],
    *,
    locked: dict[int, Row[Any]] | None = None,
    priced: bool = False,
) -> int:
    """Record status webhooks; returns how many deliveries changed.

    ``failed`` fails the delivery with Meta's reason and takes it back out of the counters
    (as ``mark_failed`` does); a failed message is not billed. A status for a delivery already
    failed, or repeated, changes nothing. A ``pricing`` object records what Meta bills for it.

    A burst brings hundreds of statuses per batch: they are read as plain rows (the few
    failures too) and written in a handful of statements, whatever their number. Loading
    each failure as an ORM object for ``mark_failed`` cost a third of the inbox writer's CPU
    with 5 % of deliveries failing (issue 13). ``locked``: the deliveries' rows as
    ``_status_rows`` reads them, already read and locked in this transaction;
    ``priced``: their pricing is recorded already (``store_statuses``), only failures remain.
    """
    items = [u for u in updates if u.delivery_id]
    if not items:
        return 0
    # Locked, in one order (no deadlocks): a worker recording the send as ``sent`` (and
    # counting it) at this moment must either finish first, so that the failure takes the
    # count back, or find the row failed.
    conn = session.connection()
    rows = locked  # ``store_statuses`` read and locked them already
    if rows is None:
        rows = {
            int(row.id): row
            for row in conn.execute(
                _status_rows(session.get_bind().dialect.name),
                {"ids": sorted({u.delivery_id for u in items})},
            )
        }
    state = {k: [row.status, row.billable, row.pricing_category] for k, row in rows.items()}
    failures: dict[int, StatusUpdate] = {}
    pricing: dict[int, tuple[bool, str | None]] = {}
    for item in items:
        row = state.get(item.delivery_id)
        if row is None or row[0] == DeliveryStatus.FAILED:
            continue
        if item.status == "failed":
            row[0] = DeliveryStatus.FAILED
            failures[item.delivery_id] = item
            pricing.pop(item.delivery_id, None)
        elif item.billable is not None and not priced:
            now = (bool(row[1]) or item.billable, item.category or row[2])
            if now != (row[1], row[2]):
                row[1], row[2] = pricing[item.delivery_id] = now
    if pricing:  # one statement for the many
        if session.get_bind().dialect.name == "postgresql":
            ids, paid, kinds = zip(*((k, b, c) for k, (b, c) in pricing.items()), strict=True)
            conn.execute(_price_arrays(), {"d_id": ids, "paid": paid, "kind": kinds})
        else:
            conn.execute(_PRICE, [{"d_id": k, "b": b, "c": c} for k, (b, c) in pricing.items()])
        _expire(session, Delivery, pricing, ["billable", "pricing_category"])
    if failures:
        _fail(session, {k: (item, rows[k]) for k, item in failures.items()})
    return len(pricing) + len(failures)


def _expire(session: Session, model: type[Any], keys: Iterable[int], names: list[str]) -> None:
    """An object the caller holds must not keep the values just written around the ORM."""
    for key in keys:
        held = session.identity_map.get(session.identity_key(model, key))
        if held is not None:
            session.expire(held, names)


def _fail(session: Session, failures: dict[int, tuple[StatusUpdate, Row[Any]]]) -> None:
    """``failed`` statuses: the delivery fails with Meta's reason, is not billed, leaves the
    counters if they counted it (it was ``sent``), and a number not on WhatsApp is marked
    unreachable."""
    conn, at = session.connection(), utcnow()
    reasons: dict[int, str] = {}
    for key, (item, _) in failures.items():
        reason = f"{item.error_code}: {item.error}" if item.error_code else item.error
        reasons[key] = reason or "gagal menurut WhatsApp"
    conn.execute(_FAIL, [{"d_id": k, "at": at, "reason": r[:500]} for k, r in reasons.items()])
    counted = {
        k: (int(row.post_id), int(row.opd_id))
        for k, (_, row) in failures.items()
        if row.status == DeliveryStatus.SENT
    }
    opened = [k for k in counted if failures[k][1].opened_at is not None]
    bump(session, withdrawn_deltas(session, counted, opened))
    gone = {
        int(row.identity_id): reasons[k][:200]
        for k, (item, row) in failures.items()
        if item.error_code == NOT_ON_WHATSAPP and row.identity_id is not None
    }
    if gone:
        conn.execute(_UNREACHABLE, [{"i_id": i, "reason": r, "at": at} for i, r in gone.items()])
        _expire(session, ChatIdentity, gone, ["reachable", "unreachable_reason", "unreachable_at"])
    written = ["status", "failed_at", "lease_owner", "lease_until", "error", "failure_kind"]
    _expire(session, Delivery, failures, [*written, "billable"])


@dataclass(frozen=True)
class Billed:
    messages: int  # deliveries Meta said are billable
    by_category: dict[str, int]


def billed(session: Session, post_id: int) -> Billed:
    """What Meta billed for a post's WhatsApp deliveries, from status ``pricing`` data."""
    delivery = table(Delivery)
    rows = session.connection().execute(
        core_select(delivery.c.pricing_category, func.count())
        .where(delivery.c.post_id == post_id, delivery.c.billable.is_(True))
        .group_by(delivery.c.pricing_category)
    )
    by_category = {str(k or "?"): int(v) for k, v in rows}
    return Billed(sum(by_category.values()), by_category)


@dataclass(frozen=True)
class Billing:
    """WhatsApp templates of some posts: how many went (not failed), and what Meta billed."""

    templates: int  # templates sent and not failed: what the estimate prices
    billed: Billed  # from status ``pricing``: Meta's own billing data


def _billing_statements(
    where: list[ColumnElement[bool]], key: ColumnElement[Any] | None
) -> tuple[Select[Any], Select[Any]]:
    """The two reads of ``_billing_rows``: templates sent, and Meta-billed messages by
    category, grouped by ``key`` (None: one group)."""
    delivery = table(Delivery)
    keys: list[ColumnElement[Any]] = [key] if key is not None else []
    sent = delivery.c.template_at.is_not(None) & (delivery.c.status != DeliveryStatus.FAILED)
    mine = [delivery.c.channel == CHANNEL, *where]
    templates = core_select(*keys, func.count()).where(sent, *mine).group_by(*keys)
    billed = (
        core_select(*keys, delivery.c.pricing_category, func.count())
        .where(delivery.c.billable.is_(True), *mine)
        .group_by(*keys, delivery.c.pricing_category)
    )
    return templates, billed


def _billing_rows(
    session: Session,
    statements: tuple[Select[Any], Select[Any]],
    keyed: bool,
    params: dict[str, Any] | None = None,
) -> dict[Any, Billing]:
    """Billing per key of ``statements`` (``_billing_statements``; not ``keyed``: one group,
    under the key None)."""
    conn = session.connection()
    templates: dict[Any, int] = {}
    for row in conn.execute(statements[0], params or {}):
        templates[row[0] if keyed else None] = int(row[-1])
    categories: dict[Any, dict[str, int]] = {}
    for row in conn.execute(statements[1], params or {}):
        group = categories.setdefault(row[0] if keyed else None, {})
        group[str(row[-2] or "?")] = int(row[-1])
    found: dict[Any, Billing] = {}
    for k in set(templates) | set(categories):
        by_category = categories.get(k, {})
        found[k] = Billing(templates.get(k, 0), Billed(sum(by_category.values()), by_category))
    return found


def billing_by_post(session: Session, post_ids: Sequence[int]) -> dict[int, Billing]:
    """Each post's WhatsApp templates and Meta-billed messages (posts with none are absent)."""
    if not post_ids:
        return {}
    delivery = table(Delivery)
    statements = _billing_statements([delivery.c.post_id.in_(list(post_ids))], delivery.c.post_id)
    found = _billing_rows(session, statements, keyed=True)
    return {int(k): v for k, v in found.items() if isinstance(k, int)}


def billing_in_window(
    session: Session, start: datetime, end: datetime, *, opd_kodes: Sequence[str] | None = None
) -> Billing:
    """The participation report's scope (posts approved in ``[start, end)``, ASN of these OPDs
    by code): templates sent and what Meta billed for them."""
    params: dict[str, Any] = {"b_start": start, "b_end": end}
    if opd_kodes is not None:
        params["b_kodes"] = list(opd_kodes)
    statements = _window_billing(opd_kodes is not None)
    return _billing_rows(session, statements, False, params).get(None) or Billing(0, Billed(0, {}))


@cache
def _window_billing(by_kode: bool) -> tuple[Select[Any], Select[Any]]:
    """``billing_in_window``'s statements, built once with bind parameters: it runs beside
    every participation report, and building them anew cost more CPU than running them
    (issue 11)."""
    delivery, post, opd = table(Delivery), table(Post), table(Opd)
    approved = core_select(post.c.id).where(
        post.c.approved_at >= bindparam("b_start", type_=UTCDateTime()),
        post.c.approved_at < bindparam("b_end", type_=UTCDateTime()),
    )
    where: list[ColumnElement[bool]] = [delivery.c.post_id.in_(approved.scalar_subquery())]
    if by_kode:
        kodes: Any = bindparam("b_kodes", expanding=True)
        codes = core_select(opd.c.id).where(opd.c.kode.in_(kodes)).scalar_subquery()
        where.append(delivery.c.opd_id.in_(codes))
    # Start from the WhatsApp deliveries that were templates or billed (two small indexes),
    # not from every delivery of the window: SQLite otherwise read a year of deliveries (all
    # channels) on every participation request. Issue 11.
    priced = core_select(delivery.c.id).where(delivery.c.template_at.is_not(None))
    billed = core_select(delivery.c.id).where(delivery.c.billable.is_(True))
    where.append(delivery.c.id.in_(priced.union(billed)))
    return _billing_statements(where, None)


def template_estimate(
    session: Session,
    opd_ids: Sequence[int] | None,
    *,
    preferred: str | None = None,
    now: datetime | None = None,
) -> int:
    """How many template messages a post to these OPDs would need today: the ASN it would reach
    on WhatsApp whose 24-hour window is closed (before approval, for the cost estimate)."""
    asn, identity = table(Asn), table(ChatIdentity)
    since = (now or utcnow()) - WINDOW
    query = (
        core_select(func.count())
        .select_from(asn)
        .join(identity, identity.c.id == reachable_identity_subquery(preferred))
        .where(
            asn.c.active.is_(True),
            asn.c.opted_out_at.is_(None),
            identity.c.channel == CHANNEL,
            (identity.c.last_inbound_at.is_(None)) | (identity.c.last_inbound_at <= since),
        )
    )
    if opd_ids:
        query = query.where(asn.c.opd_id.in_(list(opd_ids)))
    return int(session.connection().execute(query).scalar_one())


def cost_summary(
    session: Session,
    post: Post,
    *,
    prices: dict[str, float],
    category: str,
    currency: str,
    preferred: str | None = None,
    now: datetime | None = None,
) -> dict[str, object]:
    """WhatsApp's cost of a post: before approval the templates it would need and their
    estimated cost; after it, the templates sent (or still due) and what Meta billed, from the
    status webhooks' ``pricing`` (``billed_cost`` uses the configured price per category)."""
    assert post.id is not None
    price = prices.get(category, 0.0)
    if post.status == PostStatus.SUBMITTED:
        templates = template_estimate(session, None, preferred=preferred, now=now)
        own = template_estimate(session, [post.opd_id], preferred=preferred, now=now)
        extra: dict[str, object] = {
            "template_messages_own_opd": own,
            "estimated_cost_own_opd": round(own * price, 4),
        }
    else:
        delivery, identity = table(Delivery), table(ChatIdentity)
        since = (now or utcnow()) - WINDOW
        sent = (delivery.c.template_at.is_not(None)) & (delivery.c.status != DeliveryStatus.FAILED)
        due = delivery.c.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]) & (
            identity.c.last_inbound_at.is_(None) | (identity.c.last_inbound_at <= since)
        )
        templates = int(
            session.connection()
            .execute(
                core_select(func.count())
                .select_from(delivery)
                .outerjoin(identity, identity.c.id == delivery.c.identity_id)
                .where(delivery.c.post_id == post.id, delivery.c.channel == CHANNEL, sent | due)
            )
            .scalar_one()
        )
        extra = {}
    bill = billed(session, post.id)
    return {
        "template_messages": templates,
        "estimated_cost": round(templates * price, 4),
        **extra,
        "category": category,
        "currency": currency,
        "billed_messages": bill.messages,
        "billed_by_category": bill.by_category,
        "billed_cost": round(sum(prices.get(k, 0.0) * n for k, n in bill.by_category.items()), 4),
    }
