"""Diskominfo reviews a submitted post: approve for every OPD, for the submitting OPD only, or
reject with a reason (asked for in a second message). The submitter hears the decision.

Approving takes two presses: Setujui asks for the neutrality confirmation (the post carries no
candidate, party or campaign content), with the guards' warnings right above its buttons, and
only "Ya, netral" approves, through ``db.posts.guards.approve`` like the API and the CLI. In a
campaign period the first confirmation is recorded and the post waits for a second, different
Diskominfo admin, whom Gaung tells.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.conversation import choices
from bot.conversation.config import Settings
from bot.conversation.people import admin_of, tell_admins
from bot.conversation.replies import Button, Notice, Outcome, Person, Reply, one, say
from bot.texts import Markup
from db.accounts.admins import reachable_admins
from db.accounts.chat_state import clear_state, set_state
from db.delivery.whatsapp import template_estimate
from db.errors import GaungError
from db.models import Admin, Opd, Post, PostStatus, Role
from db.posts.guards import GuardWarning, approvals_of, approve, post_warnings
from db.posts.lifecycle import reject_post
from db.types import utcnow

REJECT_REASON = "reject_reason"  # chat state: waiting for the reason
_SCOPE = {choices.APPROVE_ALL: choices.NEUTRAL_ALL, choices.APPROVE_OWN: choices.NEUTRAL_OWN}


def _submitter(session: Session, post: Post, reply: Reply) -> list[Notice]:
    submitter = session.get(Admin, post.submitted_by) if post.submitted_by else None
    return tell_admins(session, [submitter], reply) if submitter is not None else []


def warning_lines(person: Person | str, warnings: list[GuardWarning]) -> Markup:
    """The guards' warnings as the last lines of a message, right above its buttons."""
    if not warnings:
        return Markup("")
    lines = [say(person, "guard.header")]
    lines += [Markup("• " + say(person, f"guard.{w.kind}", detail=w.detail)) for w in warnings]
    return Markup("\n\n" + "\n".join(lines))


def notice(
    session: Session,
    person: Person | str,
    post: Post,
    settings: Settings,
    *,
    waiting: bool = False,
) -> Reply:
    """The review notice of a submitted post: what it is, what WhatsApp would cost, the guards'
    warnings, and Setujui (semua OPD) / Setujui (hanya OPD) / Tolak. The text names no network:
    one reply serves each reviewer's channels."""
    assert post.id is not None
    opd = session.get(Opd, post.opd_id)
    nama = opd.nama if opd else "-"
    shown = f"{post.caption}\n\n" if post.caption else ""
    head = Markup(say(person, "review.waiting", id=post.id) + "\n\n") if waiting else Markup("")
    text = Markup(
        head
        + say(
            person,
            "review.new",
            id=post.id,
            opd=nama,
            platform=say(person, f"platform.{post.platform}"),
            caption=shown,
            url=post.url,
        )
        + cost_line(session, person, post.opd_id, settings)
        + warning_lines(person, post_warnings(session, post, settings.guards))
    )
    return Reply(
        text,
        (
            (
                Button(
                    say(person, "button.approve_all"),
                    choices.encode(choices.REVIEW, choices.APPROVE_ALL, post.id),
                ),
            ),
            (
                Button(
                    say(person, "button.approve_own", opd=nama),
                    choices.encode(choices.REVIEW, choices.APPROVE_OWN, post.id),
                ),
            ),
            (
                Button(
                    say(person, "button.reject"),
                    choices.encode(choices.REVIEW, choices.REJECT_POST, post.id),
                ),
            ),
        ),
    )


def cost_line(
    session: Session, person: Person | str, opd_id: int | None, settings: Settings
) -> Markup:
    """What approving would cost on WhatsApp: the templates it needs (ASN reached there outside
    their 24-hour window) at the configured price; nothing when it needs none."""
    everyone = template_estimate(session, None, preferred=settings.preferred_channel)
    if not everyone:
        return Markup("")
    own = template_estimate(
        session, [opd_id] if opd_id is not None else None, preferred=settings.preferred_channel
    )
    return Markup(
        "\n\n"
        + say(
            person,
            "review.cost",
            all=everyone,
            own=own,
            cost_all=f"{everyone * settings.template_price:.2f}",
            cost_own=f"{own * settings.template_price:.2f}",
            currency=settings.currency,
            category=settings.template_category,
        )
    )


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
    if post.status != PostStatus.SUBMITTED:
        detail = f"berstatus {post.status}, tidak bisa disetujui"
        return one(say(person, "review.conflict", id=post_id, detail=detail), replace=True)
    if action == choices.BACK:
        return Outcome([_replacing(notice(session, person, post, settings))])
    if action in _SCOPE:
        return _ask_neutrality(session, person, admin, post, action, settings)
    return _approve(session, person, admin, post, own=action == choices.NEUTRAL_OWN, s=settings)


def _replacing(reply: Reply) -> Reply:
    return Reply(reply.text, reply.buttons, replace=True)


def _ask_neutrality(
    session: Session, person: Person, admin: Admin, post: Post, action: str, settings: Settings
) -> Outcome:
    """Setujui → the neutrality confirmation; nothing is recorded or queued yet."""
    assert post.id is not None
    earlier = [a.approver for a in approvals_of(session, post.id)]
    needed = settings.guards.needed(utcnow())
    if f"admin:{admin.id}" in earlier and len(earlier) < needed:
        return one(say(person, "review.same_admin", id=post.id), replace=True)
    opd = session.get(Opd, post.opd_id)
    scope = (
        say(person, "review.scope_own", opd=opd.nama if opd else "-")
        if action == choices.APPROVE_OWN
        else say(person, "review.scope_all")
    )
    text = say(person, "review.confirm", id=post.id, scope=scope)
    if needed > 1:
        text = Markup(text + "\n\n" + say(person, "review.campaign", done=len(earlier)))
    text = Markup(text + warning_lines(person, post_warnings(session, post, settings.guards)))
    row = (
        Button(
            say(person, "button.neutral"), choices.encode(choices.REVIEW, _SCOPE[action], post.id)
        ),
        Button(say(person, "button.back"), choices.encode(choices.REVIEW, choices.BACK, post.id)),
    )
    return one(text, row, replace=True)


def _approve(
    session: Session, person: Person, admin: Admin, post: Post, *, own: bool, s: Settings
) -> Outcome:
    """Ya, netral: this admin's confirmation is recorded; the post is queued, or (campaign
    period, first approver) waits while the other Diskominfo admins are asked for the second."""
    assert post.id is not None
    opd = session.get(Opd, post.opd_id)
    try:
        done = approve(
            session,
            post.id,
            approver=f"admin:{admin.id}",
            neutral=True,
            rules=s.guards,
            admin=admin,
            targets=[opd.kode] if own and opd else None,
            preferred_channel=s.preferred_channel,
        )
    except GaungError as exc:
        return one(say(person, "review.conflict", id=post.id, detail=exc.message), replace=True)
    if done.queued is None:
        result = one(say(person, "review.first", id=post.id), replace=True)
        others = [a for a in reachable_admins(session, role=Role.DISKOMINFO) if a.id != admin.id]
        result.notices = tell_admins(
            session, others, notice(session, person, post, s, waiting=True)
        )
        return result
    queued = done.queued
    result = one(say(person, "review.approved", id=post.id, queued=queued), replace=True)
    told = Reply(say(person, "submitter.approved", id=post.id, queued=queued))
    result.notices = _submitter(session, post, told)
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
    told = Reply(say(person, "submitter.rejected", id=post_id, reason=text.strip()))
    result.notices = _submitter(session, post, told)
    return result
