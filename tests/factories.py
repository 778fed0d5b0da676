"""Test data built through the same domain functions users call."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlmodel import Session, select

from db.accounts.identities import link_identity
from db.models import Asn, Channel, ChatIdentity, Delivery
from db.roster.file import RawRow
from db.roster.importer import import_rows

_seq = itertools.count(1)
TODAY = date(2026, 11, 22)


def new_nip(*, sex: int = 1) -> str:
    n = next(_seq)
    born = f"19{80 + n % 15:02d}0{1 + n % 9}1{n % 9}"
    return f"{born}20{10 + n % 10:02d}0{1 + n % 9}{sex}{n % 999 + 1:03d}"


def add_asn(
    session: Session,
    *,
    opd: str = "DINKES",
    opd_nama: str | None = None,
    nama: str | None = None,
    phone: str | None = None,
) -> Asn:
    nip = new_nip()
    row = {
        "nip": nip,
        "nama": nama or f"ASN {nip[-5:]}",
        "opd_kode": opd,
        "opd_nama": opd_nama or f"OPD {opd}",
        "telepon": phone,
    }
    report = import_rows(session, [RawRow(2, row)], today=TODAY)
    assert not report.rejected, report.rejected
    return session.exec(select(Asn).where(Asn.nip == nip)).one()


def register(
    session: Session,
    asn: Asn,
    *,
    channel: str = Channel.TELEGRAM,
    external_id: str | None = None,
    now: datetime | None = None,
) -> ChatIdentity:
    external_id = external_id or str(10_000_000 + next(_seq))
    return link_identity(session, asn, channel=channel, external_id=external_id, now=now)


def delivery_of(session: Session, post_id: int, asn: Asn) -> Delivery:
    return session.exec(
        select(Delivery).where(Delivery.post_id == post_id, Delivery.asn_id == asn.id)
    ).one()
