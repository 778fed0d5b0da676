"""Chat identities: how an ASN is reached on Telegram or WhatsApp, and whether they can be.

Registration links an identity to an ASN; a block (403 or ``my_chat_member: kicked``) makes it
unreachable until the person writes again; ``/berhenti`` opts the ASN out on every channel.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from db.accounts.consent import CONSENT_VERSION, record_consent
from db.errors import Conflict
from db.models import Asn, ChatIdentity, ConsentEvent
from db.types import utcnow


def identity_for(session: Session, channel: str, external_id: str) -> ChatIdentity | None:
    return session.exec(
        select(ChatIdentity).where(
            ChatIdentity.channel == channel, ChatIdentity.external_id == external_id
        )
    ).first()


def link_identity(
    session: Session,
    asn: Asn,
    *,
    channel: str,
    external_id: str,
    chat_id: str | None = None,
    now: datetime | None = None,
) -> ChatIdentity:
    """Register ``asn`` on ``channel``; consent (and the version of the text the person read)
    is recorded now. Refuses a second account. Registering again after an erasure is a new
    consent: the person is no longer marked erased."""
    now = now or utcnow()
    other = session.exec(
        select(ChatIdentity).where(ChatIdentity.asn_id == asn.id, ChatIdentity.channel == channel)
    ).first()
    if other is not None and other.external_id != external_id:
        raise Conflict("ASN ini sudah terdaftar dengan akun lain")
    identity = identity_for(session, channel, external_id)
    if identity is not None and identity.asn_id not in (None, asn.id):
        raise Conflict("akun ini sudah terdaftar untuk ASN lain")
    if identity is None:
        identity = ChatIdentity(channel=channel, external_id=external_id)
    identity.asn_id = asn.id
    identity.chat_id = chat_id or external_id
    identity.reachable, identity.unreachable_reason, identity.unreachable_at = True, None, None
    identity.last_inbound_at = now
    if asn.consent_at is None or asn.consent_version != CONSENT_VERSION:
        asn.consent_at, asn.consent_version = now, CONSENT_VERSION
        record_consent(
            session, asn, ConsentEvent.GIVEN, channel=channel, version=CONSENT_VERSION, now=now
        )
    elif asn.opted_out_at is not None:
        record_consent(session, asn, ConsentEvent.RESUMED, channel=channel, version=CONSENT_VERSION)
    asn.opted_out_at = None
    asn.erased_at = None
    session.add_all([identity, asn])
    session.flush()
    return identity


def mark_unreachable(
    session: Session, identity: ChatIdentity, reason: str, *, now: datetime | None = None
) -> None:
    identity.reachable = False
    identity.unreachable_reason = reason[:200]
    identity.unreachable_at = now or utcnow()
    session.add(identity)
    session.flush()


def mark_inbound(session: Session, identity: ChatIdentity, *, at: datetime | None = None) -> None:
    """The person wrote to us: reachable again, and their messaging window restarts."""
    identity.reachable, identity.unreachable_reason, identity.unreachable_at = True, None, None
    identity.last_inbound_at = at or utcnow()
    session.add(identity)
    session.flush()


def opt_out(session: Session, asn: Asn, *, now: datetime | None = None) -> None:
    """``/berhenti``: a withdrawal, kept in the consent history rather than only as a flag."""
    if asn.opted_out_at is None:
        asn.opted_out_at = now or utcnow()
        session.add(asn)
        record_consent(session, asn, ConsentEvent.OPTED_OUT, now=asn.opted_out_at)
    session.flush()


def opt_in(session: Session, asn: Asn) -> None:
    if asn.opted_out_at is not None:
        asn.opted_out_at = None
        session.add(asn)
        record_consent(session, asn, ConsentEvent.RESUMED, version=asn.consent_version)
    session.flush()
