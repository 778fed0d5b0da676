"""Driving the conversation core as a channel adapter would, with no chat library."""

from __future__ import annotations

from sqlmodel import Session

from bot.conversation.flows import Settings, handle
from bot.conversation.replies import Action, Button, Outcome, Person, Reply
from db.accounts.admins import add_admin
from db.models import Admin

PLAIN = Settings()  # the defaults: no public address, no signing key


def tg(user_id: int, name: str = "") -> Person:
    return Person("telegram", str(user_id), str(user_id), name)


def wa(number: str, name: str = "") -> Person:
    return Person("whatsapp", number, number, name)


def do(session: Session, who: Person, action: Action, *, settings: Settings = PLAIN) -> Outcome:
    """One step, committed like the adapter's unit of work."""
    outcome = handle(session, who, action, settings)
    session.commit()
    return outcome


def only(outcome: Outcome) -> Reply:
    assert len(outcome.replies) == 1, outcome.replies
    return outcome.replies[0]


def button(reply: Reply, label: str) -> Button:
    found = [b for row in reply.buttons for b in row if label in b.label]
    assert len(found) == 1, (label, reply.buttons)
    return found[0]


def data(reply: Reply, label: str) -> str:
    pressed = button(reply, label).data
    assert pressed is not None
    return pressed


def admin(session: Session, role: str, opd: str | None, user_id: int) -> Admin:
    made, _ = add_admin(session, role=role, opd_kode=opd, telegram_id=user_id)
    session.commit()
    return made
