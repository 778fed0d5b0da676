"""Share evidence (issue 15): after tapping Share, an ASN may send the link of their own
repost. Optional, still self-reported (Gaung only checks that it is a link to a known
platform), and never a screenshot: images carry a burden and other people's data.

How a link finds its share: the Share tap itself, in the tap's own transaction
(``record_taps``), leaves the chat in the ``evidence`` state naming that delivery. A link
the same chat account sends within the chat-state expiry (``db.accounts.chat_state.EXPIRES``,
one hour) of its latest Share tap is that share's evidence; a later link replaces it. The tap
never displaces another conversation: a chat already in another state (an admin writing a
post's caption, a rejection reason) keeps it, and an admin's link is always a post
submission, never evidence (``bot.conversation.flows``). So an OPD admin sending a post link
can never lose the submission to a Share they tapped a moment before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.accounts.chat_state import EXPIRES
from db.errors import Invalid
from db.models import (
    ChatIdentity,
    ChatState,
    Confirmation,
    ConfirmationKind,
    Delivery,
    Platform,
    Post,
    table,
)
from db.posts.lifecycle import check_url, detect_platform

EVIDENCE = "evidence"  # chat state: a Share was just tapped; data: {"delivery_id": …}


def await_evidence(
    session: Session, channel: str, shares: Iterable[tuple[int, str]], *, now: datetime
) -> None:
    """Arm the ``evidence`` state for each (delivery, tapper) of newly recorded shares.

    One statement for a whole batch of taps (the webhook's fast path): an upsert that only
    overwrites a state that is ``evidence`` already or expired.
    """
    latest: dict[str, int] = {}
    for delivery_id, user in shares:
        latest[user] = delivery_id  # the last share a person tapped in the batch wins
    if not latest:
        return
    state = table(ChatState)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(state)
    stmt = stmt.on_conflict_do_update(
        index_elements=[state.c.channel, state.c.external_id],
        set_={
            "state": stmt.excluded.state,
            "data": stmt.excluded.data,
            "updated_at": stmt.excluded.updated_at,
        },
        where=or_(state.c.state == EVIDENCE, state.c.updated_at < now - EXPIRES),
    )
    session.connection().execute(
        stmt,
        [
            {
                "channel": channel,
                "external_id": user,
                "state": EVIDENCE,
                "data": json.dumps({"delivery_id": delivery_id}),
                "updated_at": now,
            }
            for user, delivery_id in sorted(latest.items())
        ],
    )


def _same_link(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def attach_evidence(
    session: Session,
    *,
    channel: str,
    external_id: str,
    delivery_id: int,
    url: str,
    now: datetime,
) -> Platform | None:
    """Store ``url`` as the evidence of that delivery's share; its platform, or None when the
    share is no longer there (erased). A bad link raises ``Invalid`` with the reason."""
    url = check_url(url)
    platform = detect_platform(url)
    if platform == Platform.WEB:
        raise Invalid("bukan tautan Instagram, Facebook, TikTok, X atau YouTube")
    delivery, identity, post = table(Delivery), table(ChatIdentity), table(Post)
    conn = session.connection()
    original = conn.execute(
        select(post.c.url)
        .join(delivery, delivery.c.post_id == post.c.id)
        .where(delivery.c.id == delivery_id)
    ).scalar_one_or_none()
    if original is not None and _same_link(original, url):
        raise Invalid("itu tautan unggahan aslinya, bukan unggahan ulang Anda")
    confirmation = table(Confirmation)
    mine = (
        select(delivery.c.id)
        .join(identity, identity.c.id == delivery.c.identity_id)
        .where(
            delivery.c.id == delivery_id,
            identity.c.channel == channel,
            identity.c.external_id == external_id,
        )
    )
    result = conn.execute(
        update(confirmation)
        .where(
            and_(
                confirmation.c.delivery_id.in_(mine.scalar_subquery()),
                confirmation.c.kind == ConfirmationKind.SHARE,
            )
        )
        .values(evidence_url=url, evidence_at=now)
    )
    return platform if result.rowcount else None
