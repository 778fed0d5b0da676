"""An OPD admin submits a post: a link → a caption (or Lewati) → a preview → Ajukan / Batal.

The draft lives in ``chat_state`` (the database), so any process can take the next step.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.conversation import choices
from bot.conversation.config import Settings
from bot.conversation.people import admin_of, admin_opd, tell_admins
from bot.conversation.replies import Button, Outcome, Person, one, say
from bot.conversation.review import notice
from db.accounts.admins import reachable_admins
from db.accounts.chat_state import clear_state, get_state, set_state
from db.errors import GaungError, Invalid
from db.models import Role
from db.posts.lifecycle import MAX_CAPTION, check_url, detect_platform, submit_post

CAPTION = "caption"  # chat state: waiting for the caption
PREVIEW = "preview"  # chat state: waiting for Ajukan / Batal


def link(session: Session, person: Person, text: str) -> Outcome:
    """A link from an admin starts a draft; from anyone else it is refused."""
    admin = admin_of(session, person)
    if admin is None:
        return one(say(person, "submit.not_admin"))
    try:
        url = check_url(text)
    except Invalid as exc:
        return one(say(person, "submit.bad_url", detail=exc.message))
    set_state(session, person.channel, person.external_id, CAPTION, url=url)
    platform = say(person, f"platform.{detect_platform(url)}")
    skip = Button(say(person, "button.skip"), choices.encode(choices.SUBMISSION, choices.SKIP))
    return one(say(person, "submit.ask_caption", platform=platform, max=MAX_CAPTION), (skip,))


def caption(
    session: Session, person: Person, text: str | None, *, replace: bool = False
) -> Outcome:
    """The caption (None: skipped) → the preview with Ajukan / Batal."""
    state = get_state(session, person.channel, person.external_id)
    admin = admin_of(session, person)
    if state is None or admin is None:
        return one(say(person, "unknown"), replace=replace)
    url = state[1]["url"]
    if text is not None and len(text) > MAX_CAPTION:
        return one(
            say(person, "submit.caption_too_long", length=len(text), max=MAX_CAPTION),
            replace=replace,
        )
    set_state(session, person.channel, person.external_id, PREVIEW, url=url, caption=text)
    opd = admin_opd(session, admin)
    shown = f"{text}\n\n" if text else ""
    row = (
        Button(say(person, "button.submit"), choices.encode(choices.SUBMISSION, choices.SUBMIT)),
        Button(say(person, "button.cancel"), choices.encode(choices.SUBMISSION, choices.CANCEL)),
    )
    preview = say(person, "submit.preview", opd=opd.nama if opd else "-", caption=shown, url=url)
    return one(preview, row, replace=replace)


def pressed(
    session: Session, person: Person, action: str, settings: Settings = Settings()
) -> Outcome:
    """Lewati, Batal or Ajukan on a draft. Ajukan puts the post before Diskominfo."""
    if action == choices.SKIP:
        return caption(session, person, None, replace=True)
    if action == choices.CANCEL:
        clear_state(session, person.channel, person.external_id)
        return one(say(person, "submit.cancelled"), replace=True)
    state = get_state(session, person.channel, person.external_id)
    admin = admin_of(session, person)
    if state is None or state[0] != PREVIEW or admin is None:
        return one(say(person, "unknown"), replace=True)
    opd = admin_opd(session, admin)
    if opd is None:
        return one(say(person, "submit.not_admin"), replace=True)
    clear_state(session, person.channel, person.external_id)
    try:
        post = submit_post(
            session,
            opd_kode=opd.kode,
            url=state[1]["url"],
            caption=state[1].get("caption"),
            submitted_by=admin,
            actor=f"admin:{admin.id}",
        )
    except GaungError as exc:
        return one(say(person, "submit.duplicate", detail=exc.message), replace=True)
    assert post.id is not None
    # The review notice (and its guards' warnings) is the review step's: one place for it.
    review = notice(session, person, post, settings)
    result = one(say(person, "submit.done", id=post.id), replace=True)
    result.notices = tell_admins(session, reachable_admins(session, role=Role.DISKOMINFO), review)
    return result
