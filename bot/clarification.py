"""The reach recap of a clarification post, sent to Diskominfo's admins an hour after approval.

``gaung worker`` runs ``reach_recap_loop``; every worker may run it: the recap is claimed in
the database (``db.posts.clarification.claim_reach_recaps``) before it is sent, so exactly one
worker sends each. The numbers are the post's own participation table (``db.reporting``),
labelled as the reports label them: delivered and opened measured, like and share
self-reported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.conversation.notifier import Notifier
from bot.conversation.people import tell_admins
from bot.conversation.replies import Notice, Reply
from bot.periodic import repeat
from bot.texts import th
from db.accounts.admins import reachable_admins
from db.engine import session_scope
from db.models import Opd, Post, Role
from db.posts.clarification import RECAP_AFTER, claim_reach_recaps
from db.reporting.participation import participation
from db.types import utcnow

log = logging.getLogger("gaung.clarification")
POLL_SECONDS = 60.0


def _pct(value: float) -> str:
    return f"{value:.1%}".replace(".", ",")


def _since(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} jam {minutes} menit"
    return f"{hours} jam" if hours else f"{minutes} menit"


def recap_text(session: Session, post_id: int, *, now: datetime) -> Reply | None:
    """The recap of one post's reach so far, over every OPD it went to."""
    post = session.get(Post, post_id)
    if post is None or post.approved_at is None:
        return None
    opd = session.get(Opd, post.opd_id)
    report = participation(session, None, post_id=post_id)
    total = report.total
    return Reply(
        th(
            "clarify.recap",
            id=post_id,
            opd=opd.nama if opd else "?",
            since=_since(now - post.approved_at),
            delivered=total.delivered,
            opened=total.opened,
            liked=total.liked,
            shared=total.shared,
            evidence=total.shared_with_evidence,
            rate=_pct(total.participation_rate),
            opds=sum(1 for row in report.rows if row.counts.delivered),
            url=post.url,
        )
    )


def due_recaps(engine: Engine, *, now: datetime, after: timedelta = RECAP_AFTER) -> list[Notice]:
    """Claim the recaps due now and build their notices, in one transaction: a claimed recap
    is this worker's to send, and no other worker will."""
    with session_scope(engine) as session:
        notices: list[Notice] = []
        post_ids = claim_reach_recaps(session, now=now, after=after)
        if not post_ids:
            return []
        admins = reachable_admins(session, role=Role.DISKOMINFO)
        for post_id in post_ids:
            reply = recap_text(session, post_id, now=now)
            if reply is not None:
                notices += tell_admins(session, admins, reply)
        log.info("reach recap of clarification posts %s claimed", post_ids)
        return notices


async def recap_once(engine: Engine, notifier: Notifier, *, now: datetime) -> int:
    """Send the recaps due now; how many messages went out."""
    notices = await asyncio.to_thread(due_recaps, engine, now=now)
    return await notifier.tell(notices) if notices else 0


async def reach_recap_loop(
    engine: Engine,
    notifier: Notifier,
    stop: asyncio.Event,
    *,
    interval: float = POLL_SECONDS,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Until ``stop``: look for due recaps every ``interval`` seconds; returns messages sent.
    A database outage or a failed round is logged and skipped rather than ending the worker
    (the claimed recap of a failed round is lost: at most once)."""
    return await repeat(
        lambda: recap_once(engine, notifier, now=clock()),
        stop,
        every=interval,
        name="reach recap round",
    )
