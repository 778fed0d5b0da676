"""One entry point for everything a person does: route it to its step.

``handle`` runs inside the caller's transaction (the adapter commits); it flushes, never
commits. Text routing: a text that continues a multi-step flow (a caption, a rejection reason)
goes there first; then a link (an admin's submission); then something that looks like a NIP;
anything else is not understood.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session

from bot.conversation import (
    choices,
    commands,
    evidence,
    registration,
    review,
    submission,
    taps,
)
from bot.conversation.config import Settings as Settings  # adapters import it here
from bot.conversation.people import admin_of
from bot.conversation.replies import (
    Action,
    Command,
    Contact,
    Other,
    Outcome,
    Person,
    Pressed,
    Text,
    one,
    say,
)
from bot.texts import as_plain, th
from db.accounts.chat_state import get_state
from db.accounts.limits import Limit, spend, subject_of
from db.delivery.evidence import EVIDENCE
from db.types import utcnow

URL = re.compile(r"^\s*\S+://\S+\s*$|^\s*(www\.)?[\w-]+(\.[\w-]+)+/\S*\s*$", re.IGNORECASE)
NIP_LIKE = re.compile(r"^[\d\s.\-]{15,30}$")
# A link inside a sentence ("ini repost saya: https://…"), for share evidence.
LINK = re.compile(r"\S+://\S+", re.IGNORECASE)
# ``/klarifikasi 42`` typed on WhatsApp (which has no commands with arguments) arrives as text.
CLARIFY = re.compile(r"^\s*/?klarifikasi\b\s*(.*)$", re.IGNORECASE | re.DOTALL)
COMMANDS = ("start", "status", "bantuan", "berhenti", "hapus")  # the menu everyone sees


def limits(settings: Settings) -> registration.Limits:
    return registration.Limits(
        nip=Limit("nip", settings.nip_attempts_per_day, timedelta(days=1)),
        pages=Limit("admin_page", settings.admin_pages_per_hour, timedelta(hours=1)),
    )


# One message more than the allowance gets a polite word; the rest of the flood, silence (an
# answer to each would spend the bot's own sending budget on the flood).
SLOW_NOTE = Limit("slow_note", 1, timedelta(minutes=1))


def flooded(session: Session, person: Person, settings: Settings) -> Outcome | None:
    """Spend one message of the person's allowance: None while some is left, else what to
    answer (the polite word once, then silence)."""
    who, now = subject_of(person.channel, person.external_id), utcnow()
    messages = Limit("message", settings.messages_per_minute, timedelta(minutes=1))
    if spend(session, messages, who, now=now):
        return None
    return (
        one(say(person, "chat.slow_down")) if spend(session, SLOW_NOTE, who, now=now) else Outcome()
    )


def handle(
    session: Session, person: Person, action: Action, settings: Settings = Settings()
) -> Outcome:
    if isinstance(action, Pressed):
        # On WhatsApp a press is a message and so is its answer (Telegram's is a toast).
        if (
            person.channel == "whatsapp"
            and (refused := flooded(session, person, settings)) is not None
        ):
            return refused
        return pressed(session, person, action.data, settings)
    commands.touch(session, person)
    if (refused := flooded(session, person, settings)) is not None:
        return refused
    if isinstance(action, Command):
        return command(session, person, action.name, settings, args=action.args)
    if isinstance(action, Contact):
        return registration.contact(session, person, action.phone, action.owner)
    if isinstance(action, Text):
        return text(session, person, action.text, settings)
    assert isinstance(action, Other)
    if _awaiting_evidence(session, person) is not None:
        return evidence.picture(person)  # a screenshot after a Share tap: a link only
    if person.phone is not None and registration.unregistered(session, person):
        return registration.start(session, person, months=settings.retention_months)
    return commands.unknown(person)


def command(
    session: Session, person: Person, name: str, settings: Settings, *, args: str = ""
) -> Outcome:
    if name == "start":
        return registration.start(session, person, months=settings.retention_months)
    if name == "status":
        return commands.status(session, person)
    if name in ("bantuan", "help"):
        return commands.help_text(session, person)
    if name == "berhenti":
        return commands.stop(session, person)
    if name == "hapus":
        return commands.erase_prompt(person)
    if name == "permintaan":
        return registration.pending_requests(session, person)
    if name == "laporan":
        return commands.report(session, person)
    if name == "dashboard":
        return commands.dashboard(session, person, settings.public_url, settings.signing_key)
    if name == "klarifikasi":
        return commands.clarify(session, person, args)
    return commands.unknown(person)


def text(session: Session, person: Person, body: str, settings: Settings = Settings()) -> Outcome:
    if asked := CLARIFY.match(body):
        return commands.clarify(session, person, asked.group(1))
    state = get_state(session, person.channel, person.external_id)
    if state is not None:
        name, data = state
        if name == submission.CAPTION:
            return submission.caption(session, person, body.strip() or None)
        if name == review.REJECT_REASON:
            return review.reason(session, person, body, int(data["post_id"]))
        # A link after a Share tap is its evidence, unless an admin sent it: an admin's link
        # is always a post submission (db.delivery.evidence explains the rule).
        link = _evidence_link(body) if name == EVIDENCE else None
        if link is not None and admin_of(session, person) is None:
            return evidence.link(session, person, link, int(data["delivery_id"]))
    if URL.match(body):
        return submission.link(session, person, body.strip())
    if NIP_LIKE.match(body) and sum(ch.isdigit() for ch in body) >= 15:
        return registration.nip(session, person, body, limits(settings), now=utcnow())
    # Where the network vouches for the number, any message from a stranger starts registration.
    if person.phone is not None and registration.unregistered(session, person):
        return registration.start(session, person, months=settings.retention_months)
    return commands.unknown(person)


def _evidence_link(body: str) -> str | None:
    """The link in a message: the whole message, or the first link inside a sentence."""
    if URL.match(body):
        return body.strip()
    found = LINK.search(body)
    return found.group(0) if found else None


def _awaiting_evidence(session: Session, person: Person) -> int | None:
    """The delivery whose share the person may send a link for now, if any."""
    state = get_state(session, person.channel, person.external_id)
    if state is None or state[0] != EVIDENCE:
        return None
    return int(state[1]["delivery_id"])


def pressed(
    session: Session, person: Person, data: str, settings: Settings = Settings()
) -> Outcome:
    """A button. Anything Gaung did not send is answered "not valid" and changes nothing."""
    choice = choices.decode(data)
    if choice is None:
        return Outcome(answer=as_plain(th("tap.refused")))
    if choice.kind == choices.TAP:
        assert choice.ref is not None
        return taps.tap(session, person, choice.ref, choices.TAP_KINDS[choice.action])
    if choice.kind == choices.REGISTRATION:
        assert choice.ref is not None
        return registration.decide(
            session, person, choice.ref, approve=choice.action == choices.APPROVE
        )
    if choice.kind == choices.SUBMISSION:
        return submission.pressed(session, person, choice.action, settings)
    if choice.kind == choices.CONSENT:
        return registration.agree(session, person)
    if choice.kind == choices.REVIEW:
        assert choice.ref is not None
        return review.pressed(session, person, choice.ref, choice.action, settings)
    return commands.erase_answer(session, person, choice.action)
