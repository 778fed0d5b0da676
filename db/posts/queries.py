"""Read models of posts for the API and the dashboard: lists with filters, one post's detail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session

from db.delivery.outbox import Progress, progress
from db.models import Opd, Post, PostTarget, table
from db.reporting.participation import Participation, participation

# Deliveries due later than this count as deferred (a channel limit or a back-off), not pending.
PROGRESS_HORIZON = timedelta(minutes=15)


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


@dataclass(frozen=True)
class PostFigures:
    """One post's numbers as one caller may see them: its target OPD codes (None: all OPD),
    sending progress and participation per OPD, over the given OPDs only when narrowed."""

    targets: list[str] | None
    progress: Progress
    participation: Participation


def post_figures(
    session: Session, post: Post, *, opd_ids: Sequence[int] | None = None, now: datetime
) -> PostFigures:
    """``opd_ids`` narrows every figure (rows, totals, progress) to the ASN of those OPDs: an
    OPD key sees how its own people took up its post, not how the rest of the regency did.
    Rows are the OPDs the post reached or was aimed at; the total sums those rows."""
    assert post.id is not None
    opd, target = table(Opd), table(PostTarget)
    targets = list(
        session.connection()
        .execute(
            select(opd.c.kode)
            .join(target, target.c.opd_id == opd.c.id)
            .where(target.c.post_id == post.id)
            .order_by(opd.c.kode)
        )
        .scalars()
    )
    state = progress(session, post.id, now=now, horizon=PROGRESS_HORIZON, opd_ids=opd_ids)
    report = participation(session, None, opd_ids=opd_ids, post_id=post.id)
    shown = Participation(
        None,
        [r for r in report.rows if r.counts.delivered or (targets and r.kode in targets)],
    )
    for row in shown.rows:
        shown.total.add(row.counts)
    return PostFigures(targets or None, state, shown)
