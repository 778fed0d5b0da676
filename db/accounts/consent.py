"""Consent: which text a person agreed to, and every withdrawal, kept as a trace.

UU 27/2022 asks a controller relying on consent to show what was consented to and when, and
to honour a withdrawal. The consent text itself lives in the chat catalogue (``bot/texts.py``,
``start.consent``); ``CONSENT_VERSION`` names it, and a test fails when the text changes
without a new version.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.models import Asn, Consent, ConsentEvent
from db.types import utcnow

# Bump whenever ``start.consent`` changes (tests/db/accounts/test_consent.py checks it).
CONSENT_VERSION = "2026-12-02"


def record_consent(
    session: Session,
    asn: Asn,
    event: ConsentEvent,
    *,
    channel: str | None = None,
    version: str | None = None,
    now: datetime | None = None,
) -> Consent:
    assert asn.id is not None
    entry = Consent(asn_id=asn.id, event=event, version=version, channel=channel)
    entry.at = now or utcnow()
    session.add(entry)
    session.flush()
    return entry


def consent_history(session: Session, asn_id: int) -> list[Consent]:
    return list(
        session.exec(
            select(Consent)
            .where(Consent.asn_id == asn_id)
            .order_by(col(Consent.at), col(Consent.id))
        )
    )
