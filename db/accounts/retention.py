"""Retention: what Gaung stops keeping once its purpose has passed (``GAUNG_RETENTION_MONTHS``).

After the period (default 12 months) the worker purges:

- the delivery detail of people who left the roster that long ago: their deliveries are
  unlinked from them exactly as an erasure does (``db.accounts.personal``), and their chat
  accounts and NIP requests deleted. The per-OPD counters, and the anonymous deliveries they
  are rebuilt from, stay: last year's participation table does not change;
- webhook ids (``processed_update``) handled before the cut-off: they only guard against a
  redelivery, which Telegram and Meta attempt for hours, not months;
- decided NIP requests and audit entries older than the cut-off;
- per-account allowances and reply pacing (``chat_allowance``, ``chat_pace``) untouched since
  the cut-off: they name a chat account, on WhatsApp a phone number, also of strangers who
  never registered, and an allowance's window lasts a day at most;
- dashboard sign-in links and sessions that have expired (``dashboard_session``): they can no
  longer sign anyone in, and only say when an admin signed in.

The roster record (the employer's) and the consent history (proof of consent and withdrawal,
kept as long as the record it belongs to) are not purged here.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlmodel import Session

from db.accounts.audit import record
from db.accounts.personal import anonymise_deliveries, forget_accounts, pseudonymiser
from db.accounts.signing import forget_expired
from db.models import (
    Asn,
    AuditLog,
    ChatAllowance,
    ChatIdentity,
    ChatPace,
    Delivery,
    ProcessedUpdate,
    RegistrationRequest,
    RegistrationStatus,
    table,
)
from db.types import utcnow

LEFT_REASON = "ASN keluar dari roster"


@dataclass(frozen=True)
class Purged:
    cutoff: datetime
    people: int = 0
    deliveries: int = 0
    accounts: int = 0
    updates: int = 0
    requests: int = 0
    audit: int = 0
    chats: int = 0  # allowance and pacing rows
    sign_ins: int = 0  # expired dashboard links and sessions

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def anything(self) -> bool:
        return any(
            (
                self.people,
                self.deliveries,
                self.updates,
                self.requests,
                self.audit,
                self.chats,
                self.sign_ins,
            )
        )


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the 31st clamps to the 30th)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def purge_expired(session: Session, *, months: int, now: datetime | None = None) -> Purged:
    now = now or utcnow()
    cutoff = months_before(now, months)
    asn, identity, requests = table(Asn), table(ChatIdentity), table(RegistrationRequest)
    delivery = table(Delivery)
    conn = session.connection()
    session.flush()

    departed = list(
        conn.execute(
            select(asn.c.id).where(
                asn.c.active.is_(False),
                asn.c.left_at.is_not(None),
                asn.c.left_at < cutoff,
                or_(
                    select(delivery.c.id).where(delivery.c.asn_id == asn.c.id).exists(),
                    select(identity.c.id).where(identity.c.asn_id == asn.c.id).exists(),
                ),
            )
        ).scalars()
    )
    deliveries = anonymise_deliveries(session, departed, reason=LEFT_REASON, now=now)
    accounts: list[tuple[str, str]] = []
    for start in range(0, len(departed), 500):
        chunk = departed[start : start + 500]
        accounts += [
            (channel, external_id)
            for channel, external_id in conn.execute(
                select(identity.c.channel, identity.c.external_id).where(
                    identity.c.asn_id.in_(chunk)
                )
            )
        ]
        conn.execute(delete(requests).where(requests.c.asn_id.in_(chunk)))
    forget_accounts(session, accounts, pseudonymiser())

    inbox, audit = table(ProcessedUpdate), table(AuditLog)
    updates = conn.execute(
        delete(inbox).where(inbox.c.handled_at.is_not(None), inbox.c.at < cutoff)
    ).rowcount
    decided = conn.execute(
        delete(requests).where(
            requests.c.status != RegistrationStatus.PENDING, requests.c.decided_at < cutoff
        )
    ).rowcount
    old_audit = conn.execute(delete(audit).where(audit.c.at < cutoff)).rowcount
    allowances, paces = table(ChatAllowance), table(ChatPace)
    chats = conn.execute(delete(allowances).where(allowances.c.window_start < cutoff)).rowcount
    chats += conn.execute(delete(paces).where(paces.c.next_at < cutoff)).rowcount
    sign_ins = forget_expired(session, before=now)
    purged = Purged(
        cutoff=cutoff,
        people=len(departed),
        deliveries=deliveries,
        accounts=len(accounts),
        updates=int(updates or 0),
        requests=int(decided or 0),
        audit=int(old_audit or 0),
        chats=int(chats or 0),
        sign_ins=sign_ins,
    )
    if purged.anything:
        record(session, "worker", "retention.purge", None, **purged.as_dict())
    session.flush()
    return purged
