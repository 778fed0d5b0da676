"""Read models only the dashboard needs: who is looking, and the post list with its progress.

The figures themselves come from ``db.reporting.participation``, ``db.reporting.trend`` and
``db.reporting.followup``, the same functions the API answers with, so the dashboard and a
script never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from db.models import Admin, ApiKey, Delivery, DeliveryStatus, Opd, Post, PostOpdStat, Role, table
from db.reporting.participation import Counts
from db.reporting.window import Window

ADMIN, API_KEY = "admin", "apikey"


@dataclass(frozen=True)
class Viewer:
    """A signed-in dashboard user: an admin (from a bot link) or the holder of an API key."""

    subject: str
    role: str
    opd_id: int | None
    opd_kode: str | None
    name: str | None

    @property
    def label(self) -> str:
        who = "Diskominfo" if self.role == Role.DISKOMINFO else f"Admin OPD {self.opd_kode}"
        return f"{who} · {self.name}" if self.name else who


def subject_of(kind: str, ident: int) -> str:
    return f"{kind}:{ident}"


def viewer_for(session: Session, subject: str) -> Viewer | None:
    """Looked up on every request, so a revoked key or a deactivated admin is out at once."""
    kind, _, ident = subject.partition(":")
    if not (ident.isascii() and ident.isdigit()):
        return None
    role: str
    opd_id: int | None
    name: str | None
    if kind == API_KEY:
        key = session.get(ApiKey, int(ident))
        if key is None or key.revoked_at is not None:
            return None
        role, opd_id, name = key.role, key.opd_id, key.name
    elif kind == ADMIN:
        admin = session.get(Admin, int(ident))
        if admin is None or not admin.active:
            return None
        role, opd_id, name = admin.role, admin.opd_id, admin.name
    else:
        return None
    opd = session.get(Opd, opd_id) if opd_id is not None else None
    return Viewer(subject, role, opd_id, opd.kode if opd else None, name)


def posts_approved(
    session: Session, window: Window, *, opd_ids: Sequence[int] | None = None
) -> int:
    """Posts approved for sending in the window, of the given OPDs (as their publisher)."""
    post = table(Post)
    stmt = (
        select(func.count())
        .select_from(post)
        .where(post.c.approved_at >= window.start, post.c.approved_at < window.end)
    )
    if opd_ids is not None:
        stmt = stmt.where(post.c.opd_id.in_(opd_ids))
    return int(session.connection().execute(stmt).scalar_one())


@dataclass
class PostRow:
    id: int
    opd_kode: str
    platform: str
    url: str
    caption: str | None
    status: str
    approved_at: datetime
    total: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    counts: Counts = field(default_factory=Counts)
    clarification: bool = False  # marked a clarification (issue 15): its sends went first

    @property
    def sent_share(self) -> float:
        return (self.sent + self.failed) / self.total if self.total else 0.0


@dataclass(frozen=True)
class PostList:
    total: int
    rows: list[PostRow]


def recent_posts(
    session: Session,
    window: Window,
    *,
    opd_ids: Sequence[int] | None = None,
    limit: int = 25,
) -> PostList:
    """The latest posts approved in the window, with sending progress and participation over
    all their recipients — what ``GET /api/v1/posts/{id}`` shows, for a page of posts in three
    queries instead of three per post."""
    post, opd, delivery, stat = table(Post), table(Opd), table(Delivery), table(PostOpdStat)
    in_window = [post.c.approved_at >= window.start, post.c.approved_at < window.end]
    if opd_ids is not None:
        in_window.append(post.c.opd_id.in_(opd_ids))
    conn = session.connection()
    total = conn.execute(select(func.count()).select_from(post).where(*in_window)).scalar_one()
    rows = {
        r.id: r
        for r in (
            PostRow(pid, kode, platform, url, caption, status, approved_at)
            for pid, kode, platform, url, caption, status, approved_at in conn.execute(
                select(
                    post.c.id,
                    opd.c.kode,
                    post.c.platform,
                    post.c.url,
                    post.c.caption,
                    post.c.status,
                    post.c.approved_at,
                )
                .join(opd, opd.c.id == post.c.opd_id)
                .where(*in_window)
                .order_by(post.c.approved_at.desc(), post.c.id.desc())
                .limit(limit)
            )
        )
    }
    ids = list(rows)
    for (post_id,) in conn.execute(
        select(post.c.id).where(post.c.id.in_(ids), post.c.clarification_at.is_not(None))
    ):
        rows[post_id].clarification = True
    for post_id, status, n in conn.execute(
        select(delivery.c.post_id, delivery.c.status, func.count())
        .where(delivery.c.post_id.in_(ids))
        .group_by(delivery.c.post_id, delivery.c.status)
    ):
        if status == DeliveryStatus.SKIPPED:
            continue  # never went out (opted out, unreachable, left): not part of the progress
        row = rows[post_id]
        row.total += n
        if status == DeliveryStatus.SENT:
            row.sent += n
        elif status == DeliveryStatus.FAILED:
            row.failed += n
        else:
            row.pending += n
    for post_id, delivered, liked, shared, participated, opened in conn.execute(
        select(
            stat.c.post_id,
            func.sum(stat.c.delivered),
            func.sum(stat.c.liked),
            func.sum(stat.c.shared),
            func.sum(stat.c.participated),
            func.sum(stat.c.opened),
        )
        .where(stat.c.post_id.in_(ids))
        .group_by(stat.c.post_id)
    ):
        rows[post_id].counts = Counts(
            delivered=int(delivered),
            liked=int(liked),
            shared=int(shared),
            participated=int(participated),
            opened=int(opened),
        )
    return PostList(int(total), list(rows.values()))


def local_month(now: datetime, tz: ZoneInfo) -> Window:
    """The calendar month (WIB) containing ``now``, for "posts this month"."""
    local = now.astimezone(tz)
    start = datetime(local.year, local.month, 1, tzinfo=tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    end = datetime(year, month, 1, tzinfo=tz)
    return Window(start.astimezone(UTC), end.astimezone(UTC))
