"""Share evidence in chat: the link of the ASN's own repost, after a Share tap.

Which share a link belongs to, and why an admin's link is never taken for evidence, is
explained in ``db.delivery.evidence``. Screenshots are declined politely: a link only.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.conversation.replies import Outcome, Person, one, say
from db.delivery.evidence import attach_evidence
from db.errors import Invalid
from db.types import utcnow


def link(session: Session, person: Person, body: str, delivery_id: int) -> Outcome:
    try:
        platform = attach_evidence(
            session,
            channel=person.channel,
            external_id=person.external_id,
            delivery_id=delivery_id,
            url=body.strip(),
            now=utcnow(),
        )
    except Invalid as exc:
        return one(say(person, "evidence.bad", detail=exc.message))
    if platform is None:
        return one(say(person, "evidence.gone"))
    return one(say(person, "evidence.saved", platform=say(person, f"platform.{platform}")))


def picture(person: Person) -> Outcome:
    return one(say(person, "evidence.no_pictures"))
