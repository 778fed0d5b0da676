"""Diskominfo reviews a submitted post: approve for every OPD, for the submitting OPD only, or
reject with a reason (asked for in a second message). The submitter hears the decision."""

from __future__ import annotations

from sqlmodel import Session

from bot.conversation import choices
from bot.conversation.config import Settings
from bot.conversation.people import admin_of, tell_admins
from bot.conversation.replies import Notice, Outcome, Person, Reply, one, say
from db.accounts.chat_state import clear_state, set_state
from db.errors import GaungError
from db.models import Admin, Opd, Post, Role
from db.posts.lifecycle import approve_post, reject_post

REJECT_REASON = "reject_reason"  # chat state: waiting for the reason


def _submitter(session: Session, post: Post, reply: Reply) -> list[Notice]:
    submitter = session.get(Admin, post.submitted_by) if post.submitted_by else None
    return tell_admins(session, [submitter], reply) if submitter is not None else []


def pressed(
    session: Session, person: Person, post_id: int, action: str, settings: Settings = Settings()
) -> Outcome:
    admin = admin_of(session, person)
    if admin is None or admin.role != Role.DISKOMINFO:
        return one(say(person, "report.not_admin"), replace=True)
    if action == choices.REJECT_POST:
        set_state(session, person.channel, person.external_id, REJECT_REASON, post_id=post_id)
        return one(say(person, "review.ask_reason", id=post_id), replace=True)
    post = session.get(Post, post_id)
    if post is None:
        return one(say(person, "review.conflict", id=post_id, detail="tidak ada"), replace=True)
    opd = session.get(Opd, post.opd_id)
    targets = [opd.kode] if action == choices.APPROVE_OWN and opd else None
    try:
        _, queued = approve_post(
            session,
            post_id,
            approved_by=admin,
            targets=targets,
            actor=f"admin:{admin.id}",
            preferred_channel=settings.preferred_channel,
        )
    except GaungError as exc:
        return one(say(person, "review.conflict", id=post_id, detail=exc.message), replace=True)
    result = one(say(person, "review.approved", id=post_id, queued=queued), replace=True)
    notice = Reply(say(person, "submitter.approved", id=post_id, queued=queued))
    result.notices = _submitter(session, post, notice)
    return result


def reason(session: Session, person: Person, text: str, post_id: int) -> Outcome:
    """The reason for a rejection, typed after Tolak."""
    admin = admin_of(session, person)
    clear_state(session, person.channel, person.external_id)
    if admin is None or admin.role != Role.DISKOMINFO:
        return one(say(person, "report.not_admin"))
    try:
        post = reject_post(session, post_id, reason=text, actor=f"admin:{admin.id}")
    except GaungError as exc:
        return one(say(person, "review.conflict", id=post_id, detail=exc.message))
    result = one(say(person, "review.rejected", id=post_id, reason=text.strip()))
    notice = Reply(say(person, "submitter.rejected", id=post_id, reason=text.strip()))
    result.notices = _submitter(session, post, notice)
    return result
