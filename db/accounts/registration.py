"""Registering ASN from chat: by their own shared contact, or by NIP with their admin's approval.

Each refusal is its own outcome so the bot can say exactly what happened and whom to ask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from db.accounts.admins import reachable_admins
from db.accounts.audit import record
from db.accounts.identities import identity_for, link_identity
from db.accounts.personal import erase_account as erase_account  # the bot imports it here
from db.errors import Conflict, Forbidden, NotFound
from db.models import (
    Admin,
    Asn,
    ChatIdentity,
    Opd,
    RegistrationRequest,
    RegistrationStatus,
    Role,
    table,
)
from db.roster.nip import InvalidNip, normalize_nip
from db.roster.phones import InvalidPhone, normalize_phone
from db.types import utcnow


class Result(StrEnum):
    REGISTERED = "registered"
    ALREADY = "already"  # this account is already this ASN's
    NOT_OWN_CONTACT = "not_own_contact"
    NOT_IN_ROSTER = "not_in_roster"
    INACTIVE = "inactive"
    OTHER_ACCOUNT = "other_account"  # the ASN is registered with another account
    ACCOUNT_TAKEN = "account_taken"  # this account is registered as another ASN
    INVALID = "invalid"
    REQUESTED = "requested"
    PENDING = "pending"  # a request is already waiting


@dataclass
class Registration:
    result: Result
    asn: Asn | None = None
    opd: Opd | None = None
    detail: str | None = None
    request: RegistrationRequest | None = None
    notify_admins: list[Admin] = field(default_factory=list)


def _with_opd(session: Session, result: Result, asn: Asn, **kw: object) -> Registration:
    return Registration(result, asn, session.get(Opd, asn.opd_id), **kw)  # type: ignore[arg-type]


def _roster_match(
    session: Session, match: ColumnElement[bool], value: str, channel: str, external_id: str
) -> Asn | Registration:
    """The ASN that ``match`` finds (by phone or by NIP) if this chat may register as them,
    else the answer that says why not (``value``, what was looked up, goes in its detail)."""
    asn = session.exec(select(Asn).where(match)).first()
    if asn is None:
        return Registration(Result.NOT_IN_ROSTER, detail=value)
    refusal = _check_account(session, asn, channel, external_id)
    return asn if refusal is None else refusal


def _check_account(
    session: Session, asn: Asn, channel: str, external_id: str
) -> Registration | None:
    """Refusals common to both ways of registering; None when registration may go ahead."""
    if not asn.active:
        return _with_opd(session, Result.INACTIVE, asn)
    mine = identity_for(session, channel, external_id)
    if mine is not None and mine.asn_id is not None:
        if mine.asn_id == asn.id:
            return _with_opd(session, Result.ALREADY, asn)
        return _with_opd(session, Result.ACCOUNT_TAKEN, asn)
    theirs = session.exec(
        select(ChatIdentity).where(ChatIdentity.asn_id == asn.id, ChatIdentity.channel == channel)
    ).first()
    if theirs is not None:
        return _with_opd(session, Result.OTHER_ACCOUNT, asn)
    return None


def register_by_contact(
    session: Session,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    phone: str,
    contact_user_id: str | None,
    now: datetime | None = None,
) -> Registration:
    """A contact counts only when it is the sender's own (Telegram's ``contact.user_id``)."""
    if contact_user_id is None or contact_user_id != external_id:
        return Registration(Result.NOT_OWN_CONTACT)
    try:
        e164 = normalize_phone(phone if phone.startswith("+") else "+" + phone)
    except InvalidPhone as exc:
        return Registration(Result.INVALID, detail=str(exc))
    asn = _roster_match(session, col(Asn.phone) == e164, e164, channel, external_id)
    if isinstance(asn, Registration):
        return asn
    link_identity(session, asn, channel=channel, external_id=external_id, chat_id=chat_id, now=now)
    record(session, f"{channel}:{external_id}", "asn.register", f"asn:{asn.id}", via="contact")
    return _with_opd(session, Result.REGISTERED, asn)


def request_by_nip(
    session: Session,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    nip: str,
    now: datetime | None = None,
) -> Registration:
    try:
        clean = normalize_nip(nip)
    except InvalidNip as exc:
        return Registration(Result.INVALID, detail=str(exc))
    asn = _roster_match(session, col(Asn.nip) == clean, clean, channel, external_id)
    if isinstance(asn, Registration):
        return asn
    pending = session.exec(
        select(RegistrationRequest).where(
            RegistrationRequest.channel == channel,
            RegistrationRequest.external_id == external_id,
            RegistrationRequest.status == RegistrationStatus.PENDING,
        )
    ).first()
    if pending is not None:
        if pending.asn_id == asn.id:
            return _with_opd(session, Result.PENDING, asn, request=pending)
        # Asking for a different NIP replaces the earlier request instead of piling up.
        pending.status, pending.decided_at = RegistrationStatus.REJECTED, now or utcnow()
        session.add(pending)
        session.flush()
    assert asn.id is not None
    request = RegistrationRequest(
        asn_id=asn.id, channel=channel, external_id=external_id, chat_id=chat_id
    )
    session.add(request)
    session.flush()
    admins = reachable_admins(session, role=Role.OPD, opd_id=asn.opd_id)
    return _with_opd(session, Result.REQUESTED, asn, request=request, notify_admins=admins)


def waiting_requests(
    session: Session, *, opd_id: int | None
) -> list[tuple[RegistrationRequest, Asn]]:
    """Pending NIP requests, oldest first, of one OPD's ASN (all OPD when ``opd_id`` is None)."""
    query = (
        select(RegistrationRequest, Asn)
        .join(Asn, col(Asn.id) == RegistrationRequest.asn_id)
        .where(RegistrationRequest.status == RegistrationStatus.PENDING)
        .order_by(col(RegistrationRequest.created_at), col(RegistrationRequest.id))
    )
    if opd_id is not None:
        query = query.where(Asn.opd_id == opd_id)
    return [(request, asn) for request, asn in session.exec(query)]


def decide_request(
    session: Session, request_id: int, *, admin: Admin, approve: bool, now: datetime | None = None
) -> tuple[RegistrationRequest, Asn, Registration | None]:
    """An OPD admin (of the ASN's OPD) or Diskominfo approves or rejects a NIP request."""
    request = session.get(RegistrationRequest, request_id)
    if request is None:
        raise NotFound("permintaan pendaftaran tidak ada")
    asn = session.get(Asn, request.asn_id)
    assert asn is not None
    if admin.role != Role.DISKOMINFO and admin.opd_id != asn.opd_id:
        raise Forbidden("Anda bukan admin OPD ASN ini")
    if request.status != RegistrationStatus.PENDING:
        raise Conflict(f"permintaan ini sudah {request.status}")
    now = now or utcnow()
    request.decided_by, request.decided_at = admin.id, now
    outcome: Registration | None = None
    if approve:
        outcome = _check_account(session, asn, request.channel, request.external_id)
        if outcome is None:
            link_identity(
                session,
                asn,
                channel=request.channel,
                external_id=request.external_id,
                chat_id=request.chat_id,
                now=now,
            )
            outcome = _with_opd(session, Result.REGISTERED, asn)
        request.status = RegistrationStatus.APPROVED
    else:
        request.status = RegistrationStatus.REJECTED
    session.add(request)
    session.flush()
    record(
        session,
        f"admin:{admin.id}",
        "registration.approve" if approve else "registration.reject",
        f"asn:{asn.id}",
        request=request_id,
    )
    return request, asn, outcome


def asn_by_phone(session: Session, phone: str) -> Asn | None:
    """The roster's ASN with this number (any spelling), or None (also for an unreadable one)."""
    try:
        e164 = normalize_phone(phone if phone.startswith("+") else "+" + phone)
    except InvalidPhone:
        return None
    return session.exec(select(Asn).where(Asn.phone == e164)).first()


def asn_for_account(session: Session, channel: str, external_id: str) -> Asn | None:
    identity = identity_for(session, channel, external_id)
    if identity is None or identity.asn_id is None:
        return None
    return session.get(Asn, identity.asn_id)


def set_reachable(
    session: Session, channel: str, external_id: str, reachable: bool, reason: str | None = None
) -> None:
    """Flag a chat account (un)reachable as its network reports it; adapters report it as it
    happens, so the time is now."""
    identities = table(ChatIdentity)
    session.connection().execute(
        update(identities)
        .where(identities.c.channel == channel, identities.c.external_id == external_id)
        .values(
            reachable=reachable,
            unreachable_reason=None if reachable else reason,
            unreachable_at=None if reachable else utcnow(),
        )
    )
