"""Read models of posts for the API and the dashboard: lists with filters, one post's detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session

from db.delivery.outbox import Progress, progress
from db.models import Opd, Post, PostTarget, table
from db.reporting.participation import participation
from db.reporting.window import local_iso


@dataclass(frozen=True)
class PostFilter:
    opd_ids: list[int] | None = None
    status: str | None = None
    platform: str | None = None
    start: datetime | None = None  # on submitted_at
    end: datetime | None = None


def list_posts(
    session: Session, filters: PostFilter, *, limit: int, offset: int
) -> tuple[int, list[tuple[Post, str]]]:
    post, opd = table(Post), table(Opd)
    conditions: list[ColumnElement[bool]] = []
    if filters.opd_ids is not None:
        conditions.append(post.c.opd_id.in_(filters.opd_ids))
    if filters.status:
        conditions.append(post.c.status == filters.status)
    if filters.platform:
        conditions.append(post.c.platform == filters.platform)
    if filters.start:
        conditions.append(post.c.submitted_at >= filters.start)
    if filters.end:
        conditions.append(post.c.submitted_at < filters.end)
    total = (
        session.connection()
        .execute(select(func.count()).select_from(post).where(*conditions))
        .scalar_one()
    )
    ids_and_kode = (
        session.connection()
        .execute(
            select(post.c.id, opd.c.kode)
            .join(opd, opd.c.id == post.c.opd_id)
            .where(*conditions)
            .order_by(post.c.submitted_at.desc(), post.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        .all()
    )
    posts = {p.id: p for p in session.exec(_posts_by_id([i for i, _ in ids_and_kode]))}
    return int(total), [(posts[i], kode) for i, kode in ids_and_kode]


def _posts_by_id(ids: list[int]) -> Any:
    from sqlmodel import col
    from sqlmodel import select as model_select

    return model_select(Post).where(col(Post.id).in_(ids))


def post_json(post: Post, opd_kode: str, tz: ZoneInfo) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return local_iso(moment, tz) if moment else None

    return {
        "id": post.id,
        "opd": opd_kode,
        "url": post.url,
        "platform": post.platform,
        "caption": post.caption,
        "status": post.status,
        "submitted_at": when(post.submitted_at),
        "approved_at": when(post.approved_at),
        "send_at": when(post.send_at),
        "sent_at": when(post.sent_at),
        "reason": post.reason,
        "target_all": post.target_all,
    }


def post_detail(
    session: Session, post: Post, opd_kode: str, tz: ZoneInfo, *, now: datetime
) -> dict[str, Any]:
    from datetime import timedelta

    assert post.id is not None
    targets = list(
        session.connection()
        .execute(
            select(table(Opd).c.kode)
            .join(table(PostTarget), table(PostTarget).c.opd_id == table(Opd).c.id)
            .where(table(PostTarget).c.post_id == post.id)
        )
        .scalars()
    )
    state: Progress = progress(session, post.id, now=now, horizon=timedelta(minutes=15))
    report = participation(session, None, post_id=post.id).as_json(tz)
    rows = [r for r in report["opd"] if r["delivered"] or (targets and r["kode"] in targets)]
    return post_json(post, opd_kode, tz) | {
        "targets": targets or None,
        "progress": {
            "total": state.total,
            "sent": state.sent,
            "failed": state.failed,
            "pending": state.pending,
            "deferred": state.deferred,
            "failures": state.failures,
        },
        "participation": {"opd": rows, "total": report["total"]},
    }
