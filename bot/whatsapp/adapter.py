"""WhatsApp events into conversation actions, and the conversation's answers back.

WhatsApp has no slash commands: ``status``, ``berhenti``, ``hapus``, ``bantuan`` (with or
without ``/``) are typed keywords. A reply button's id and a template quick reply's payload are
the ``choices`` format, so both come back as ``Pressed``. The person's account is their number
(``wa_id``) when WhatsApp shows it, else the business-scoped ``user_id`` (a user with a
username may arrive without ``wa_id``); a shown number is one WhatsApp vouches for, which is
what lets a stranger register by agreeing (``Person.phone``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.conversation import replies as said
from bot.conversation.flows import Settings, handle
from bot.conversation.replies import Outcome, Person
from bot.whatsapp.webhook import ButtonReply, Inbound, InboundText, OtherInbound, QuickReply
from db.accounts.identities import identity_for
from db.models import AdminIdentity, ChatIdentity

CHANNEL = "whatsapp"
KEYWORDS = {
    "start": "start",
    "mulai": "start",
    "daftar": "start",
    "status": "status",
    "bantuan": "bantuan",
    "help": "bantuan",
    "menu": "bantuan",
    "berhenti": "berhenti",
    "stop": "berhenti",
    "hapus": "hapus",
    "laporan": "laporan",
    "permintaan": "permintaan",
    "dashboard": "dashboard",
}


def person_of(event: Inbound) -> Person:
    contact = event.contact
    account = contact.wa_id or contact.user_id
    name = contact.name or ""
    if contact.username:
        name = f"{name} (@{contact.username})".strip()
    phone = f"+{contact.wa_id.lstrip('+')}" if contact.wa_id else None
    return Person(CHANNEL, account, account, name or account, phone=phone)


def action_of(event: Inbound) -> said.Action:
    if isinstance(event, ButtonReply):
        return said.Pressed(event.button_id)
    if isinstance(event, QuickReply):
        return said.Pressed(event.payload)
    if isinstance(event, InboundText):
        body = event.text.strip()
        words = body.lstrip("/").split(maxsplit=1)
        if words and len(words) == 1 and words[0].lower() in KEYWORDS:
            return said.Command(KEYWORDS[words[0].lower()])
        return said.Text(body)
    assert isinstance(event, OtherInbound)
    return said.Other()


def last_inbound(session: Session, person: Person) -> datetime | None:
    identity = identity_for(session, person.channel, person.external_id)
    return identity.last_inbound_at if identity is not None else None


def _admin_account(session: Session, person: Person) -> AdminIdentity | None:
    return session.exec(
        select(AdminIdentity).where(
            AdminIdentity.channel == person.channel,
            AdminIdentity.external_id == person.external_id,
        )
    ).first()


def window_from(session: Session, person: Person, at: datetime, before: datetime | None) -> None:
    """The window counts from the message's own ``timestamp`` (the steps stamp "now"); a late
    redelivery of an older message never moves it back."""
    admin = _admin_account(session, person)
    if admin is not None:  # an admin's own window, for the notices Gaung sends them
        last = admin.last_inbound_at
        admin.last_inbound_at = max(at, last) if last is not None else at
        session.add(admin)
    identity = identity_for(session, person.channel, person.external_id)
    if identity is not None:
        identity.last_inbound_at = max(at, before) if before is not None else at
        session.add(identity)
    session.flush()


def resolve(session: Session, event: Inbound) -> Person:
    """The person, recognised by ``user_id`` when WhatsApp hides their number: their account
    stays the number they registered with, and replies still go there."""
    person = person_of(event)
    contact = event.contact
    if contact.wa_id or not contact.user_id:
        return person
    known = session.exec(
        select(ChatIdentity).where(
            ChatIdentity.channel == CHANNEL, ChatIdentity.user_id == contact.user_id
        )
    ).first()
    if known is None:
        return person
    chat = known.chat_id or known.external_id
    return Person(CHANNEL, known.external_id, chat, person.name)


def remember_user_id(session: Session, person: Person, user_id: str) -> None:
    identity = identity_for(session, person.channel, person.external_id)
    if identity is not None and user_id and identity.user_id != user_id:
        identity.user_id = user_id
        session.add(identity)
        session.flush()


def converse(session: Session, event: Inbound, settings: Settings) -> tuple[Person, Outcome]:
    """One inbound message through the conversation core, in the caller's transaction."""
    person = resolve(session, event)
    before = last_inbound(session, person)
    outcome = handle(session, person, action_of(event), settings)
    window_from(session, person, event.at, before)
    remember_user_id(session, person, event.contact.user_id)
    return person, outcome
