"""Clarification first (issue 15): when a negative issue spreads, Diskominfo marks an approved
post as a *klarifikasi*.

Its queued deliveries are claimed before any other post's (``db.delivery.outbox.claim_due``),
its reminder comes after ``GAUNG_CLARIFICATION_REMINDER_HOURS`` instead of the usual delay
(``db.delivery.reminders``), and an hour after approval Diskominfo's admins get a recap of its
reach. The recap is claimed by stamping ``post.reach_recap_at`` in one conditional UPDATE, so
however many workers look at once, exactly one of them sends it; a crash after the claim loses
that recap rather than sending it twice (a recap is a courtesy, a duplicate is noise).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from db.accounts.audit import record
from db.errors import Conflict
from db.models import Post, PostStatus, table
from db.posts.lifecycle import get_post
from db.types import utcnow

# Only a post that is going out (or about to) can be hurried: a submitted one is not approved
# yet, a sent one has nothing left in the queue.
CLARIFIABLE = (PostStatus.APPROVED, PostStatus.SENDING)
RECAP_AFTER = timedelta(hours=1)


def mark_clarification(
    session: Session, post_id: int, *, actor: str = "cli", now: datetime | None = None
) -> tuple[Post, bool]:
    """Mark the post a clarification; returns it and whether it was newly marked.

    Marking twice is harmless (the first time stands), so a repeated command or request
    changes nothing.
    """
    post = get_post(session, post_id, lock=True)
    if post.clarification_at is not None:
        return post, False
    if post.status not in CLARIFIABLE:
        raise Conflict(
            f"postingan #{post_id} berstatus {post.status}: hanya postingan yang sudah "
            "disetujui dan belum selesai terkirim yang bisa dijadikan klarifikasi"
        )
    post.clarification_at = now or utcnow()
    session.add(post)
    session.flush()
    record(session, actor, "post.clarify", f"post:{post_id}")
    return post, True


def claim_reach_recaps(
    session: Session, *, now: datetime, after: timedelta = RECAP_AFTER, limit: int = 20
) -> list[int]:
    """The clarification posts whose reach recap is due, claimed for this caller alone.

    Due = approved at least ``after`` ago. The UPDATE re-checks ``reach_recap_at IS NULL`` on
    the row it locks (PostgreSQL re-evaluates the condition after waiting for a concurrent
    writer; SQLite writes one at a time), so two workers never both get the same post.
    """
    post = table(Post)
    due = (
        select(post.c.id)
        .where(
            post.c.clarification_at.is_not(None),
            post.c.reach_recap_at.is_(None),
            post.c.approved_at <= now - after,
            post.c.status.in_([PostStatus.APPROVED, PostStatus.SENDING, PostStatus.SENT]),
        )
        .order_by(post.c.approved_at)
        .limit(limit)
    )
    rows = session.connection().execute(
        update(post)
        .where(post.c.id.in_(due.scalar_subquery()), post.c.reach_recap_at.is_(None))
        .values(reach_recap_at=now)
        .returning(post.c.id)
    )
    return sorted(int(row[0]) for row in rows)
