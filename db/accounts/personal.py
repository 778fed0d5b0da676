"""A person's own data: what Gaung gathered through chat, exported or erased on request.

Where the line runs (issue 12): the roster record — NIP, name, OPD, position, the phone number
in the regency's HR data, PNS/PPPK status — is the employer's, held on its own legal basis,
and stays, so the person can register again by sharing their contact as the bot promises.
Everything gathered through chat is erased or made anonymous:

- chat identities (Telegram user id, WhatsApp account), NIP requests and chat state: deleted,
  with the per-account allowances and reply pacing that name the account (on WhatsApp the
  account is the phone number); a WhatsApp identity's business-scoped ``user_id`` is erased
  as an account of its own, since the person may have written under it before their number
  showed;
- deliveries: unlinked from the person (``asn_id``, the chat identity and the message id
  emptied). Each still counts for the OPD it was sent to, with its confirmations, so the
  participation figures do not move; unsent ones fail, so nothing more goes out;
- the audit log: the chat id in each entry the person made is replaced by a keyed hash whose
  key is thrown away, so the entries still read as "one account did these" but cannot be
  traced back to it, not even by hashing every possible Telegram id;
- the withdrawal itself is recorded (``asn.erased_at`` and a ``consent`` entry), so an erased
  person is left out of follow-up lists, and the office can show the request was honoured.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, or_, select, update
from sqlmodel import Session
from sqlmodel import select as orm_select

from db.accounts.audit import record
from db.accounts.consent import consent_history, record_consent
from db.accounts.identities import identity_for
from db.accounts.limits import forget, subject_of
from db.errors import Invalid, NotFound
from db.models import (
    Asn,
    AuditLog,
    ButtonRefresh,
    ChatIdentity,
    ChatPace,
    ChatState,
    Confirmation,
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Opd,
    Post,
    RegistrationRequest,
    table,
)
from db.roster.nip import InvalidNip, normalize_nip
from db.types import utcnow

ERASED_REASON = "data ASN dihapus atas permintaannya"
Account = tuple[str, str]  # (channel, external_id)
Pseudonym = Callable[[str, str], str]


@dataclass(frozen=True)
class Erasure:
    asn_id: int | None
    accounts: int
    deliveries: int


def asn_by_nip(session: Session, nip: str) -> Asn:
    try:
        clean = normalize_nip(nip)
    except InvalidNip as exc:
        raise Invalid(str(exc)) from None
    asn = session.exec(orm_select(Asn).where(Asn.nip == clean)).first()
    if asn is None:
        raise NotFound(f"NIP {clean} tidak ada di roster")
    return asn


def anonymise_deliveries(
    session: Session, asn_ids: Sequence[int], *, reason: str, now: datetime
) -> int:
    """Unlink these people's deliveries from them; counts per OPD stay as they were.

    A delivery not yet sent fails with ``reason`` (cancel_pending's rule: one already claimed
    by a worker is left to finish, since its message may be on the wire). Queued button
    redraws go: there is no chat left to redraw in.
    """
    if not asn_ids:
        return 0
    delivery, refresh = table(Delivery), table(ButtonRefresh)
    confirmation = table(Confirmation)
    conn = session.connection()
    session.flush()
    total = 0
    for start in range(0, len(asn_ids), 500):
        chunk = list(asn_ids[start : start + 500])
        mine = delivery.c.asn_id.in_(chunk)
        conn.execute(
            update(delivery)
            .where(mine, delivery.c.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.FAILED, error=reason, failed_at=now)
        )
        conn.execute(
            delete(refresh).where(refresh.c.delivery_id.in_(select(delivery.c.id).where(mine)))
        )
        # The link of a person's own repost names their account: it goes; ``evidence_at``
        # stays, so the share still counts as one with evidence (issue 15).
        conn.execute(
            update(confirmation)
            .where(
                confirmation.c.delivery_id.in_(select(delivery.c.id).where(mine)),
                confirmation.c.evidence_url.is_not(None),
            )
            .values(evidence_url=None)
        )
        result = conn.execute(
            update(delivery).where(mine).values(asn_id=None, identity_id=None, message_id=None)
        )
        total += int(result.rowcount or 0)
    return total


def pseudonymiser() -> Pseudonym:
    key = secrets.token_bytes(32)  # never stored: the hash cannot be recomputed later

    def pseudonym(channel: str, external_id: str) -> str:
        digest = hmac.new(key, f"{channel}:{external_id}".encode(), hashlib.sha256).hexdigest()
        return f"{channel}:#{digest[:16]}"

    return pseudonym


def forget_accounts(session: Session, accounts: Sequence[Account], pseudonym: Pseudonym) -> None:
    """Delete the chat side of these accounts and hash their ids in the audit log."""
    if not accounts:
        return
    requests, states, audit = table(RegistrationRequest), table(ChatState), table(AuditLog)
    identities, paces = table(ChatIdentity), table(ChatPace)
    conn = session.connection()
    session.flush()
    for channel, external_id in accounts:
        conn.execute(
            delete(requests).where(
                requests.c.channel == channel, requests.c.external_id == external_id
            )
        )
        conn.execute(
            delete(states).where(states.c.channel == channel, states.c.external_id == external_id)
        )
        forget(session, subject_of(channel, external_id))
        conn.execute(
            delete(paces).where(paces.c.channel == channel, paces.c.chat_id == external_id)
        )
        conn.execute(
            update(audit)
            .where(audit.c.actor == f"{channel}:{external_id}")
            .values(actor=pseudonym(channel, external_id))
        )
        conn.execute(
            delete(identities).where(
                identities.c.channel == channel, identities.c.external_id == external_id
            )
        )
    session.expire_all()


def erase_asn(
    session: Session,
    asn: Asn,
    *,
    actor: str = "cli",
    channel: str | None = None,
    now: datetime | None = None,
    pseudonym: Pseudonym | None = None,
) -> Erasure:
    """Erase what chat gathered about this person, on every channel (``gaung asn erase``)."""
    assert asn.id is not None
    now = now or utcnow()
    pseudonym = pseudonym or pseudonymiser()
    asn_id = asn.id
    identities = list(session.exec(orm_select(ChatIdentity).where(ChatIdentity.asn_id == asn_id)))
    accounts: list[Account] = [(i.channel, i.external_id) for i in identities]
    accounts += [
        (i.channel, i.user_id) for i in identities if i.user_id and i.user_id != i.external_id
    ]
    deliveries = anonymise_deliveries(session, [asn_id], reason=ERASED_REASON, now=now)
    forget_accounts(session, accounts, pseudonym)
    requests = table(RegistrationRequest)
    session.connection().execute(delete(requests).where(requests.c.asn_id == asn_id))
    fresh = session.get(Asn, asn_id)
    assert fresh is not None
    fresh.consent_at = fresh.consent_version = fresh.opted_out_at = None
    fresh.erased_at = now
    fresh.updated_at = now
    session.add(fresh)
    record_consent(session, fresh, ConsentEvent.ERASED, channel=channel, now=now)
    record(
        session,
        actor,
        "asn.erase",
        f"asn:{asn_id}",
        accounts=len(identities),
        deliveries=deliveries,
    )
    session.flush()
    return Erasure(asn_id, len(identities), deliveries)


def erase_account(session: Session, channel: str, external_id: str) -> bool:
    """``/hapus`` from a chat account: the person's erasure, or, for an account that is no
    one's, its own traces. True when there was an account to erase."""
    pseudonym = pseudonymiser()
    actor = pseudonym(channel, external_id)
    identity = identity_for(session, channel, external_id)
    if identity is not None and identity.asn_id is not None:
        asn = session.get(Asn, identity.asn_id)
        assert asn is not None
        erase_asn(session, asn, actor=actor, channel=channel, pseudonym=pseudonym)
        return True
    forget_accounts(session, [(channel, external_id)], pseudonym)
    record(session, actor, "asn.erase", None)
    session.flush()
    return identity is not None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _plain(row: RowMapping) -> dict[str, Any]:
    """A result row as JSON-ready data, keyed by its column names."""
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in row.items()}


def export_asn(session: Session, asn: Asn, *, actor: str | None = None) -> dict[str, Any]:
    """Everything Gaung holds about this person, as JSON-ready data (``gaung asn export``).

    With an ``actor``, the export itself goes into the audit log (after the copy is taken):
    reading a person's whole record is an act to account for.
    """
    assert asn.id is not None
    opd = session.get(Opd, asn.opd_id)
    conn = session.connection()
    identities = list(session.exec(orm_select(ChatIdentity).where(ChatIdentity.asn_id == asn.id)))
    accounts = [f"{i.channel}:{i.external_id}" for i in identities]
    requests = list(
        session.exec(orm_select(RegistrationRequest).where(RegistrationRequest.asn_id == asn.id))
    )
    delivery, post, confirmation = table(Delivery), table(Post), table(Confirmation)
    deliveries: dict[int, dict[str, Any]] = {}
    for row in conn.execute(  # each delivery once per tap on it (or once, untapped)
        select(
            delivery.c.id,
            delivery.c.post_id,
            post.c.url,
            post.c.caption,
            delivery.c.channel,
            delivery.c.status,
            delivery.c.sent_at,
            delivery.c.failed_at,
            delivery.c.error,
            delivery.c.reminded_at,
            delivery.c.opened_at,  # measured: the tracked link opened
            delivery.c.template_at,  # WhatsApp: sent as a (billed) template
            delivery.c.billable,
            delivery.c.pricing_category,
            confirmation.c.kind,
            confirmation.c.created_at.label("at"),
            confirmation.c.evidence_url,
        )
        .join(post, post.c.id == delivery.c.post_id)
        .outerjoin(confirmation, confirmation.c.delivery_id == delivery.c.id)
        .where(delivery.c.asn_id == asn.id)
        .order_by(delivery.c.id, confirmation.c.id)
    ):
        fields = _plain(row._mapping)
        tap = {"kind": fields.pop("kind"), "at": fields.pop("at")}
        evidence = fields.pop("evidence_url")
        if evidence is not None:
            tap["evidence_url"] = evidence  # the link of their own repost (issue 15)
        taps = deliveries.setdefault(fields.pop("id"), fields | {"confirmations": []})
        if tap["kind"] is not None:
            taps["confirmations"].append(tap)
    audit = table(AuditLog)
    who = [audit.c.target == f"asn:{asn.id}"]
    if accounts:
        who.append(audit.c.actor.in_(accounts))
    audit_rows = [
        _plain(row._mapping)
        for row in conn.execute(
            select(audit.c.at, audit.c.actor, audit.c.action, audit.c.target, audit.c.details)
            .where(or_(*who))
            .order_by(audit.c.id)
        )
    ]
    data = {
        "roster": {
            "nip": asn.nip,
            "nama": asn.nama,
            "opd": {"kode": opd.kode, "nama": opd.nama} if opd else None,
            "jabatan": asn.jabatan,
            "telepon": asn.phone,
            "status": asn.status,
            "active": asn.active,
            "left_at": _iso(asn.left_at),
        },
        "consent": {
            "consent_at": _iso(asn.consent_at),
            "version": asn.consent_version,
            "opted_out_at": _iso(asn.opted_out_at),
            "erased_at": _iso(asn.erased_at),
            "history": [
                {"event": c.event, "version": c.version, "channel": c.channel, "at": _iso(c.at)}
                for c in consent_history(session, asn.id)
            ],
        },
        "chat_accounts": [
            {
                "channel": i.channel,
                "account_id": i.external_id,
                "chat_id": i.chat_id,
                "user_id": i.user_id,  # WhatsApp's business-scoped id of the same person
                "reachable": i.reachable,
                "unreachable_reason": i.unreachable_reason,
                "unreachable_at": _iso(i.unreachable_at),
                "last_inbound_at": _iso(i.last_inbound_at),
                "created_at": _iso(i.created_at),
            }
            for i in identities
        ],
        "registration_requests": [
            {
                "channel": r.channel,
                "account_id": r.external_id,
                "status": r.status,
                "created_at": _iso(r.created_at),
                "decided_at": _iso(r.decided_at),
            }
            for r in requests
        ],
        "deliveries": list(deliveries.values()),
        "audit_log": audit_rows,
    }
    if actor is not None:
        record(session, actor, "asn.export", f"asn:{asn.id}")
        session.flush()
    return data
