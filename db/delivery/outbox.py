"""The delivery outbox: one row per post × ASN, written when a post is approved.

Materialising every delivery in the approving transaction is what makes a broadcast durable:
from then on, workers only move rows from ``pending`` to ``sent`` or ``failed``, and a crash
leaves every unsent row where it was.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Engine,
    ScalarSelect,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlmodel import Session

from db.delivery.confirmed import confirmed_kinds
from db.delivery.counters import bump, confirmed_deltas, delivered_deltas
from db.models import (
    Asn,
    Channel,
    ChatIdentity,
    Delivery,
    DeliveryStatus,
    FailureKind,
    Opd,
    Post,
    PostStatus,
    table,
)
from db.types import utcnow

log = logging.getLogger("gaung.outbox")

# When an ASN can be reached on both channels, one message goes out, on the preferred one:
# the ASN's own ``preferred_channel``, else the deployment's (``GAUNG_PREFERRED_CHANNEL``), else
# this order.
CHANNEL_PREFERENCE = (Channel.TELEGRAM, Channel.WHATSAPP)


def reachable_identity_subquery(preferred: str | None = None) -> ScalarSelect[Any]:
    """The chosen identity per ASN: reachable, on the ASN's preferred channel, else the
    deployment's, else in the default order. One row per ASN, so never two messages."""
    asn, identity = table(Asn), table(ChatIdentity)
    default = case(
        {ch.value: i for i, ch in enumerate(CHANNEL_PREFERENCE)},
        value=identity.c.channel,
        else_=len(CHANNEL_PREFERENCE),
    )
    # SQLite cannot see the outer ``asn`` from this ORDER BY: read the ASN's choice afresh.
    mine = asn.alias("own_choice")
    choice = (
        select(mine.c.preferred_channel).where(mine.c.id == identity.c.asn_id).scalar_subquery()
    )
    own = case((identity.c.channel == choice, 0), else_=1)
    deployment = case((identity.c.channel == (preferred or ""), 0), else_=1)
    return (
        select(identity.c.id)
        .where(identity.c.asn_id == asn.c.id, identity.c.reachable.is_(True))
        .order_by(own, deployment, default, identity.c.id)
        .limit(1)
        .correlate(asn)
        .scalar_subquery()
    )


def materialise_deliveries(
    session: Session,
    post: Post,
    opd_ids: Sequence[int] | None,
    *,
    due: datetime,
    now: datetime,
    preferred: str | None = None,
) -> int:
    """Queue the post for every active, reachable, not opted-out ASN of the target OPDs."""
    asn, identity, delivery = table(Asn), table(ChatIdentity), table(Delivery)
    source = (
        select(
            literal(post.id),
            asn.c.id,
            asn.c.opd_id,
            identity.c.id,
            identity.c.channel,
            literal(DeliveryStatus.PENDING.value),
            literal(0),
            literal(due, type_=delivery.c.next_attempt_at.type),
            literal(now, type_=delivery.c.created_at.type),
        )
        .select_from(asn)
        .join(identity, identity.c.id == reachable_identity_subquery(preferred))
        .where(asn.c.active.is_(True), asn.c.opted_out_at.is_(None))
    )
    if opd_ids:
        source = source.where(asn.c.opd_id.in_(opd_ids))
    columns = ["post_id", "asn_id", "opd_id", "identity_id", "channel"]
    columns += ["status", "attempts", "next_attempt_at", "created_at"]
    stmt = insert(delivery).from_select(columns, source)
    session.flush()
    # SQLAlchemy only promises a rowcount for UPDATE/DELETE unless asked to keep it.
    result = session.connection().execute(stmt.execution_options(preserve_rowcount=True))
    if result.rowcount:
        wake_workers(session)
    return int(result.rowcount)


DUE_CHANNEL = "gaung_outbox"  # PostgreSQL NOTIFY channel: new deliveries may be due


def wake_workers(session: Session) -> None:
    """Tell idle workers (``DueListener``) that rows were queued, when this transaction
    commits (PostgreSQL delivers a NOTIFY only then, when the rows are visible). SQLite has
    no such message: its workers find the rows at their next claim."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(select(func.pg_notify(DUE_CHANNEL, "")))


class DueListener:
    """An idle worker's ear for ``wake_workers`` (PostgreSQL only): one connection of its
    own, outside the pool, listening. A post approved by another process then starts at
    once, not at the worker's next claim (``idle_poll``, 0.2 s: on average 0.1 s of a
    broadcast's start-up)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Any = None

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s for a wake-up (call it in a thread); whether one came.
        Any trouble with the connection: wait out the timeout and connect again next time."""
        started = time.monotonic()
        try:
            if self._conn is None:
                self._conn = self._connect()
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except Exception as exc:
            log.warning("listening for due deliveries failed (%s)", type(exc).__name__)
            self.close()
            time.sleep(max(0.0, timeout - (time.monotonic() - started)))
            return False

    def _connect(self) -> Any:
        dialect = self.engine.dialect
        args, params = dialect.create_connect_args(self.engine.url)
        params = {"connect_timeout": 5, **params, "autocommit": True}
        conn = dialect.loaded_dbapi.connect(*args, **params)
        conn.execute(f"LISTEN {DUE_CHANNEL}")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def cancel_pending(session: Session, post_id: int) -> int:
    """Unsent deliveries of a cancelled post fail with the reason kept.

    Rows already claimed by a worker are left to finish: their message may be on the wire, and
    recording it as sent is the truth.
    """
    delivery = table(Delivery)
    result = session.exec(
        update(delivery)
        .where(delivery.c.post_id == post_id, delivery.c.status == DeliveryStatus.PENDING)
        .values(
            status=DeliveryStatus.FAILED,
            error="postingan dibatalkan",
            failure_kind=FailureKind.CANCELLED,
            failed_at=utcnow(),
        )
    )
    return int(result.rowcount or 0)


def mark_sent(
    session: Session, delivery: Delivery, message_id: str | None, *, now: datetime | None = None
) -> None:
    if delivery.status != DeliveryStatus.SENT:
        key = (delivery.post_id, delivery.opd_id)
        bump(session, delivered_deltas([key]))
        assert delivery.id is not None
        bump(session, confirmed_deltas(session, {delivery.id: key}))
    delivery.status = DeliveryStatus.SENT
    delivery.message_id = message_id
    delivery.sent_at = now or utcnow()
    delivery.lease_owner = delivery.lease_until = None
    delivery.error = None
    session.add(delivery)
    session.flush()


def mark_failed(
    session: Session, delivery: Delivery, error: str, *, now: datetime | None = None
) -> None:
    """Also for a send the channel accepted and later reported failed (WhatsApp statuses)."""
    if delivery.status == DeliveryStatus.SENT:
        assert delivery.id is not None
        kinds = confirmed_kinds(session, delivery.id)
        delta = {"delivered": -1, "participated": -1 if kinds else 0}
        delta |= {"liked": -int("like" in kinds), "shared": -int("share" in kinds)}
        delta["opened"] = -int(delivery.opened_at is not None)
        bump(session, {(delivery.post_id, delivery.opd_id): delta})
    delivery.status = DeliveryStatus.FAILED
    delivery.failed_at = now or utcnow()
    delivery.lease_owner = delivery.lease_until = None
    delivery.error = error[:500]
    delivery.failure_kind = None  # not TRANSIENT: a failure the channel reports is not retried
    session.add(delivery)
    session.flush()


# --- Claiming and recording, for the delivery workers -----------------------------------------
#
# A claimed row is ``sending`` with ``next_attempt_at`` = the end of its lease. One condition,
# ``status IN (pending, sending) AND next_attempt_at <= now``, therefore finds both due rows and
# rows whose worker died mid-send; the (status, next_attempt_at) index serves it.

ACTIVE_POST_STATUSES = (PostStatus.APPROVED, PostStatus.SENDING)
OPEN_DELIVERY = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


@dataclass(frozen=True)
class Claimed:  # (its fields are ``CLAIMED``)
    id: int
    post_id: int
    channel: str
    identity_id: int | None
    chat_id: str | None
    attempts: int
    url: str
    caption: str | None
    platform: str
    opd_nama: str
    first_tried_at: datetime | None = None
    # When the person last wrote to us (WhatsApp's 24-hour window counts from it).
    last_inbound_at: datetime | None = None


CLAIMED = frozenset(f.name for f in fields(Claimed))


def claim_due(
    session: Session,
    *,
    worker: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    post_id: int | None = None,
    channels: Sequence[str] | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries to ``worker``.

    PostgreSQL skips rows another worker holds (``FOR UPDATE SKIP LOCKED``), so several
    workers on several machines share one broadcast; SQLite serialises writers through
    ``BEGIN IMMEDIATE``, so the same statement is safe across processes sharing the file.

    The recipient is checked again here, not only when the post was approved: a delivery
    whose ASN has since opted out, become unreachable or left the roster ends ``skipped``
    (with the reason) instead of being sent.

    Clarification posts (``db.posts.clarification``) go first: their due rows are leased
    before any other post's, and the rest of ``limit`` is filled in the usual order.
    """
    post = table(Post)
    ids: list[int] = []
    first = _clarification_posts(session, post_id)
    if first:
        ids += _lease(session, worker, limit, now, lease, first, channels)
    if len(ids) < limit:
        only = [post_id] if post_id is not None else None
        ids += _lease(session, worker, limit - len(ids), now, lease, only, channels)
    if not ids:
        return []
    order = {d: i for i, d in enumerate(ids)}  # clarification rows stay at the front
    result = sorted(_load_checked(session, ids, now=now), key=lambda c: order[c.id])
    post_ids = {c.post_id for c in result}
    session.connection().execute(
        update(post)
        .where(post.c.id.in_(post_ids), post.c.status == PostStatus.APPROVED)
        .values(status=PostStatus.SENDING)
    )
    return result


def _clarification_posts(session: Session, post_id: int | None) -> list[int]:
    """The clarification posts still sending (a handful at most), narrowed to ``post_id``."""
    post = table(Post)
    stmt = select(post.c.id).where(
        post.c.status.in_(ACTIVE_POST_STATUSES), post.c.clarification_at.is_not(None)
    )
    if post_id is not None:
        stmt = stmt.where(post.c.id == post_id)
    return [int(row[0]) for row in session.connection().execute(stmt)]


def _lease(
    session: Session,
    worker: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    post_ids: Sequence[int] | None,
    channels: Sequence[str] | None,
) -> list[int]:
    """Lease up to ``limit`` due rows (of ``post_ids``, if given) to ``worker``; their ids."""
    delivery, post = table(Delivery), table(Post)
    due = (
        select(delivery.c.id)
        .join(post, post.c.id == delivery.c.post_id)
        .where(
            delivery.c.status.in_(OPEN_DELIVERY),
            delivery.c.next_attempt_at <= now,
            post.c.status.in_(ACTIVE_POST_STATUSES),
        )
        .order_by(delivery.c.next_attempt_at, delivery.c.id)
        .limit(limit)
    )
    if post_ids is not None:
        due = due.where(delivery.c.post_id.in_(post_ids))
    if channels is not None:
        due = due.where(delivery.c.channel.in_(channels))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=delivery, skip_locked=True)
    claimed = session.connection().execute(
        update(delivery)
        .where(delivery.c.id.in_(due.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            lease_owner=worker,
            lease_until=now + lease,
            next_attempt_at=now + lease,
            first_tried_at=func.coalesce(delivery.c.first_tried_at, now),
        )
        .returning(delivery.c.id)
    )
    return [int(row[0]) for row in claimed]


SKIP_OPTED_OUT = "dilewati: ASN berhenti menerima kiriman (/berhenti)"
SKIP_LEFT = "dilewati: ASN tidak lagi ada dalam daftar"
SKIP_NO_CHAT = "dilewati: identitas chat ASN sudah dihapus"
SKIP_UNREACHABLE = "dilewati: chat ASN tidak dapat dihubungi"


def _skip_reason(row: Any) -> str | None:
    """Why a claimed delivery's recipient may no longer get it (``None``: they may). A
    delivery whose ASN was erased (``asn_id`` emptied) is not judged here."""
    if row.asn_active is None:
        return None
    if row.opted_out_at is not None:
        return SKIP_OPTED_OUT
    if not row.asn_active:
        return SKIP_LEFT
    if row.identity_id is None or row.reachable is None:  # no identity (row) any more
        return SKIP_NO_CHAT
    if row.reachable is False:
        detail = f" ({row.unreachable_reason})" if row.unreachable_reason else ""
        return f"{SKIP_UNREACHABLE}{detail}"
    return None


def _load_checked(session: Session, ids: Sequence[int], *, now: datetime) -> list[Claimed]:
    """``load_claimed`` and the recipient's check in one read: the deliveries whose recipient
    may no longer get them end ``skipped`` (with the reason); the others are returned."""
    asn, identity = table(Asn), table(ChatIdentity)
    extra = (
        asn.c.active.label("asn_active"),
        asn.c.opted_out_at,
        identity.c.reachable,
        identity.c.unreachable_reason,
    )
    rows = session.connection().execute(_claimed_query(ids, extra)).all()
    skips = []
    claimed = []
    for row in rows:
        reason = _skip_reason(row)
        if reason is None:
            claimed.append(Claimed(**{k: v for k, v in row._asdict().items() if k in CLAIMED}))
        else:
            skips.append({"d_id": row.id, "err": reason[:500]})
    if skips:
        ended = ended_by_id(DeliveryStatus.SKIPPED, error=bindparam("err"), failed_at=now)
        session.connection().execute(ended, skips)
    return claimed


def ended_by_id(status: DeliveryStatus, **values: Any) -> Any:
    """The UPDATE that ends deliveries, one per ``d_id`` parameter set (executemany): its
    final ``status`` and ``values``, and its lease released so no worker holds it any more."""
    delivery = table(Delivery)
    return (
        update(delivery)
        .where(delivery.c.id == bindparam("d_id"))
        .values(status=status, lease_owner=None, lease_until=None, **values)
    )


def renew_leases(
    session: Session, *, worker: str, ids: Sequence[int], now: datetime, lease: timedelta
) -> set[int]:
    """Extend the leases ``worker`` still holds (rows waiting for their send slot); which.

    A row missing from the answer is no longer this worker's: its lease ran out and another
    worker may have taken it over, so it must not be sent from here.
    """
    if not ids:
        return set()
    delivery = table(Delivery)
    result = session.connection().execute(
        update(delivery)
        .where(
            delivery.c.id.in_(list(ids)),
            delivery.c.status == DeliveryStatus.SENDING,
            delivery.c.lease_owner == worker,
        )
        .values(lease_until=now + lease, next_attempt_at=now + lease)
        .returning(delivery.c.id)
    )
    return set(result.scalars())


def requeue_failed(session: Session, post_id: int, *, now: datetime) -> int:
    """Queue again the post's deliveries that failed for a transient reason; how many.

    Never those refused as unreachable, refused by the channel, or cancelled, and never the
    skipped ones (the person opted out or left). The post goes back to ``sending``.
    """
    delivery, post = table(Delivery), table(Post)
    conn = session.connection()
    result = conn.execute(
        update(delivery)
        .where(
            delivery.c.post_id == post_id,
            delivery.c.status == DeliveryStatus.FAILED,
            delivery.c.failure_kind == FailureKind.TRANSIENT,
        )
        .values(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            first_tried_at=None,
            failed_at=None,
            failure_kind=None,
            error=None,
        )
    )
    count = int(result.rowcount or 0)
    if count:
        conn.execute(
            update(post)
            .where(post.c.id == post_id, post.c.status == PostStatus.SENT)
            .values(status=PostStatus.SENDING, sent_at=None)
        )
    return count


def load_claimed(session: Session, ids: Sequence[int]) -> list[Claimed]:
    """What a sender needs for each leased delivery: chat, post and OPD."""
    return [Claimed(**row._asdict()) for row in session.connection().execute(_claimed_query(ids))]


def _claimed_query(ids: Sequence[int], extra: Sequence[Any] = ()) -> Any:
    delivery, post, identity, opd = table(Delivery), table(Post), table(ChatIdentity), table(Opd)
    asn = table(Asn)
    query = (
        select(
            delivery.c.id,
            delivery.c.post_id,
            delivery.c.channel,
            delivery.c.identity_id,
            identity.c.chat_id,
            delivery.c.attempts,
            post.c.url,
            post.c.caption,
            post.c.platform,
            opd.c.nama.label("opd_nama"),
            delivery.c.first_tried_at,
            identity.c.last_inbound_at,
            *extra,
        )
        .select_from(delivery)
        .join(post, post.c.id == delivery.c.post_id)
        .join(opd, opd.c.id == post.c.opd_id)
        .outerjoin(identity, identity.c.id == delivery.c.identity_id)
        .where(delivery.c.id.in_(ids))
        .order_by(delivery.c.id)
    )
    if extra:
        query = query.outerjoin(asn, asn.c.id == delivery.c.asn_id)
    return query


@dataclass(frozen=True)
class Outcome:
    """What happened to one send.

    ``kind``: sent, retry, deferred, failed, unreachable (fails the delivery and the identity),
    identity (a reminder found the identity unreachable; the delivery itself stays sent).
    ``counts_attempt``: a retry caused by the channel's trouble (an outage) spends no attempt.
    ``failure_kind``: for ``failed``, why (``FailureKind``), so that transient ones can be retried.
    """

    delivery_id: int
    kind: str
    message_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    identity_id: int | None = None
    counts_attempt: bool = True
    failure_kind: str | None = None


@functools.cache
def _record_sent(dialect: str) -> Any:
    """``sent`` for a whole batch: the rows still open become sent, each with its message id,
    and the statement returns those it moved. The (delivery id, message id) pairs arrive as
    bound values of a fixed shape (``_sent_values``): two arrays unnested side by side on
    PostgreSQL, one JSON object on SQLite."""
    delivery = table(Delivery)
    if dialect == "postgresql":
        pairs = select(
            func.unnest(bindparam("sent_ids", type_=ARRAY(BigInteger))).label("id"),
            func.unnest(bindparam("sent_messages", type_=ARRAY(String))).label("message_id"),
        ).subquery("sent")
    else:
        each = func.json_each(bindparam("sent_json", type_=String)).table_valued("key", "value")
        pairs = select(
            cast(each.c.key, BigInteger).label("id"), each.c.value.label("message_id")
        ).subquery("sent")
    # SQLite plans without statistics unless ANALYZE ran: it took the status index as the
    # outer loop and read the whole JSON batch for every open delivery (0.5 s a batch of 100
    # with 16,000 open, against 0.5 ms). The unary + keeps the status test off that index, so
    # the batch drives and each row is found by its id.
    status: ColumnElement[Any] = delivery.c.status
    if dialect != "postgresql":
        status = UnaryExpression(status, operator=custom_op("+"), type_=status.type)
    return (
        update(delivery)
        .where(delivery.c.id == pairs.c.id, status.in_(OPEN_DELIVERY))
        .values(
            status=DeliveryStatus.SENT,
            sent_at=bindparam("sent_at", type_=delivery.c.sent_at.type),
            error=None,
            attempts=delivery.c.attempts + 1,
            message_id=pairs.c.message_id,
            lease_owner=None,
            lease_until=None,
        )
        .returning(delivery.c.id, delivery.c.post_id, delivery.c.opd_id)
    )


def _sent_values(dialect: str, message_ids: dict[int, str | None], now: datetime) -> dict[str, Any]:
    if dialect == "postgresql":
        return {
            "sent_ids": list(message_ids),
            "sent_messages": list(message_ids.values()),
            "sent_at": now,
        }
    return {"sent_json": json.dumps({str(k): v for k, v in message_ids.items()}), "sent_at": now}


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, now: datetime, worker: str | None = None
) -> set[int]:
    """Write a batch of results in one statement per kind; returns the posts touched.

    With ``worker``, every outcome but ``sent`` applies only while the row is still leased to
    that worker: a worker that stalled past its lease cannot undo what the worker that took the
    row over recorded. ``sent`` is the truth whoever reports it, so it applies to any row not
    yet final (and a row already final is never counted twice).
    """
    delivery = table(Delivery)
    by_kind: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_kind.setdefault(outcome.kind, []).append(outcome)
    conn = session.connection()
    guard = and_(delivery.c.id == bindparam("d_id"), delivery.c.status == DeliveryStatus.SENDING)
    if worker is not None:
        guard = and_(guard, delivery.c.lease_owner == worker)
    free = {"lease_owner": None, "lease_until": None}
    moved: list[Any] = []
    if sent := by_kind.get("sent"):
        # One statement moves the rows, sets each its message id and says which it really
        # moved (a row another worker already recorded is not counted twice). Its text is the
        # same whatever the batch (the ids and message ids travel as one value each), so it is
        # compiled and prepared once: a second UPDATE per row for the message id once cost a
        # paid broadcast 8,000 executions and a row version per delivery, and an IN list plus
        # a CASE per batch cost the worker more CPU building the SQL than its sends.
        dialect = session.get_bind().dialect.name
        message_ids = {o.delivery_id: o.message_id for o in sent}
        moved = list(conn.execute(_record_sent(dialect), _sent_values(dialect, message_ids, now)))
    if moved:
        bump(session, delivered_deltas((row.post_id, row.opd_id) for row in moved))
        # Taps that beat this record (the person saw the message first) count now.
        bump(session, confirmed_deltas(session, {r.id: (r.post_id, r.opd_id) for r in moved}))

    def release(
        rows: list[Outcome], values: dict[str, Any], params: Callable[[Outcome], dict[str, Any]]
    ) -> None:
        """Move leased rows out of ``sending`` (under ``guard``), freeing their lease."""
        if rows:
            conn.execute(
                update(delivery).where(guard).values(**values, **free),
                [{"d_id": o.delivery_id} | params(o) for o in rows],
            )

    release(
        by_kind.get("retry", []) + by_kind.get("deferred", []),
        {
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": bindparam("due"),
            "error": bindparam("err"),
            "attempts": delivery.c.attempts + bindparam("inc"),
        },
        lambda o: {
            "due": o.next_attempt_at,
            "err": o.error,
            "inc": int(o.kind == "retry" and o.counts_attempt),
        },
    )
    release(
        by_kind.get("failed", []) + by_kind.get("unreachable", []),
        {
            "status": DeliveryStatus.FAILED,
            "failed_at": now,
            "error": bindparam("err"),
            "failure_kind": bindparam("fk"),
            "attempts": delivery.c.attempts + 1,
        },
        lambda o: {
            "err": (o.error or "")[:500],
            "fk": o.failure_kind or (FailureKind.UNREACHABLE if o.kind == "unreachable" else None),
        },
    )
    unreachable = [
        o
        for o in by_kind.get("unreachable", []) + by_kind.get("identity", [])
        if o.identity_id is not None
    ]
    if unreachable:
        identity = table(ChatIdentity)
        conn.execute(
            update(identity)
            .where(identity.c.id == bindparam("i_id"))
            .values(reachable=False, unreachable_at=now, unreachable_reason=bindparam("err")),
            [{"i_id": o.identity_id, "err": (o.error or "")[:200]} for o in unreachable],
        )
    # The posts whose deliveries may all be final now: those of the rows moved to sent (their
    # statement said), and of every other outcome (asked).
    posts = {int(row.post_id) for row in moved}
    others = [o.delivery_id for o in outcomes if o.kind != "sent"]
    if others:
        posts.update(
            conn.execute(
                select(delivery.c.post_id).where(delivery.c.id.in_(others)).distinct()
            ).scalars()
        )
    return posts


def finish_posts(session: Session, post_ids: Sequence[int] | set[int], *, now: datetime) -> None:
    """A post whose deliveries are all sent or failed is ``sent``."""
    delivery, post = table(Delivery), table(Post)
    still_open = (
        select(delivery.c.id)
        .where(delivery.c.post_id == post.c.id, delivery.c.status.in_(OPEN_DELIVERY))
        .exists()
    )
    session.connection().execute(
        update(post)
        .where(post.c.id.in_(list(post_ids)), post.c.status.in_(ACTIVE_POST_STATUSES), ~still_open)
        .values(status=PostStatus.SENT, sent_at=now)
    )


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    pending: int  # waiting or being sent now
    deferred: int  # pending, but not due before the given moment (channel limit, backoff)
    failures: dict[str, int]
    skipped: int = 0  # not sent: opted out, unreachable or left the roster after approval

    @property
    def done(self) -> bool:
        return self.pending == 0 or self.pending == self.deferred


def _of_post(post_id: int, opd_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    delivery = table(Delivery)
    where = [delivery.c.post_id == post_id]
    if opd_ids is not None:  # ix_delivery_post_opd_status serves both forms
        where.append(delivery.c.opd_id.in_(opd_ids))
    return where


def status_counts(
    session: Session, post_id: int, *, opd_ids: Sequence[int] | None = None
) -> dict[str, int]:
    """How many of the post's deliveries (to the ASN of ``opd_ids``, if given) are in each
    status."""
    delivery = table(Delivery)
    return dict(
        session.connection()
        .execute(
            select(delivery.c.status, func.count())
            .where(*_of_post(post_id, opd_ids))
            .group_by(delivery.c.status)
        )
        .all()
    )


def progress(
    session: Session,
    post_id: int,
    *,
    now: datetime,
    horizon: timedelta,
    opd_ids: Sequence[int] | None = None,
) -> Progress:
    delivery = table(Delivery)
    conn = session.connection()
    counts = status_counts(session, post_id, opd_ids=opd_ids)
    deferred = conn.execute(
        select(func.count()).where(
            *_of_post(post_id, opd_ids),
            delivery.c.status == DeliveryStatus.PENDING,
            delivery.c.next_attempt_at > now + horizon,
        )
    ).scalar_one()
    failures: dict[str | None, int] = dict(
        conn.execute(
            select(delivery.c.error, func.count())
            .where(*_of_post(post_id, opd_ids), delivery.c.status == DeliveryStatus.FAILED)
            .group_by(delivery.c.error)
        ).all()
    )
    pending = counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.SENDING, 0)
    return Progress(
        total=sum(counts.values()),
        sent=counts.get(DeliveryStatus.SENT, 0),
        failed=counts.get(DeliveryStatus.FAILED, 0),
        pending=pending,
        deferred=deferred,
        failures={str(k): v for k, v in failures.items()},
        skipped=counts.get(DeliveryStatus.SKIPPED, 0),
    )
