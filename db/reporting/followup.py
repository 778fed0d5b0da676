"""People, not percentages: which ASN of an OPD took part in a window, and which to follow up.

An OPD admin's question after reading the participation table is "who?". The list is of the
OPD's current roster (active ASN), each with what they received and confirmed over posts
approved in the window — the same window rule as ``db.reporting.participation``. An ASN who is not
registered appears too, marked as such, because "register first" is the follow-up they need.

The registration funnel per OPD (roster → registered → received → participated) counts people
of the current roster too. The counters table counts deliveries, not people, so these queries
read deliveries — but person by person: for each ASN, "is there a delivery of one of the
window's posts?" is a few probes of the unique (post, ASN) index that stop at the first hit,
where counting distinct people over a month's deliveries would read every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Exists, ScalarSelect, and_, func, select
from sqlmodel import Session

from db.models import (
    Asn,
    ChatIdentity,
    Confirmation,
    Delivery,
    DeliveryStatus,
    Opd,
    Post,
    table,
)
from db.reporting.participation import Participation
from db.reporting.window import Window


class Registration(StrEnum):
    """Why an ASN can or cannot receive posts now, in the words an admin acts on."""

    REGISTERED = "terdaftar"
    UNREGISTERED = "belum_terdaftar"  # no chat account linked: ask them to register
    UNREACHABLE = "tidak_terjangkau"  # linked, but blocked the bot or the account is gone
    OPTED_OUT = "berhenti"  # sent /berhenti


@dataclass(frozen=True)
class AsnRow:
    nip: str
    nama: str
    jabatan: str | None
    registration: Registration
    delivered: int
    participated: int


@dataclass(frozen=True)
class AsnPage:
    total: int
    rows: list[AsnRow]


def _sent_to_asn(window: Window) -> ColumnElement[bool]:
    """A delivery of one of the window's posts, accepted by the channel, to the outer ASN row.

    ``post_id IN (…)`` beside ``asn_id = …`` lets the engine probe the unique (post, ASN) index
    once per post of the window instead of reading the ASN's whole history.
    """
    asn, delivery, post = table(Asn), table(Delivery), table(Post)
    window_posts = select(post.c.id).where(
        post.c.approved_at >= window.start, post.c.approved_at < window.end
    )
    return (
        (delivery.c.asn_id == asn.c.id)
        & (delivery.c.status == DeliveryStatus.SENT)
        & delivery.c.post_id.in_(window_posts)
    )


def _confirmed() -> Exists:
    delivery, confirmation = table(Delivery), table(Confirmation)
    return select(confirmation.c.id).where(confirmation.c.delivery_id == delivery.c.id).exists()


def _any_delivery(window: Window, *, confirmed: bool) -> ColumnElement[bool]:
    """The outer ASN row received (and, if ``confirmed``, confirmed) a post of the window."""
    asn, delivery = table(Asn), table(Delivery)
    # An ASN with no delivery ever (most unregistered ones) is settled by one probe, before
    # probing once per post of the window.
    ever = select(delivery.c.id).where(delivery.c.asn_id == asn.c.id).correlate(asn).exists()
    found = select(delivery.c.id).where(_sent_to_asn(window))
    if confirmed:
        found = found.where(_confirmed())
    return and_(ever, found.correlate(asn).exists())


def _count(window: Window, *, confirmed: bool) -> ScalarSelect[Any]:
    asn, delivery = table(Asn), table(Delivery)
    stmt = select(func.count()).select_from(delivery).where(_sent_to_asn(window))
    if confirmed:
        stmt = stmt.where(_confirmed())
    return stmt.correlate(asn).scalar_subquery()


def opd_asn(
    session: Session,
    opd_id: int,
    window: Window,
    *,
    participated: bool,
    limit: int,
    offset: int,
) -> AsnPage:
    """The OPD's active ASN who did (or did not) confirm at least one delivery, by name.

    Someone who erased their data (``/hapus``) is left out: they withdrew, so they are no
    one to follow up, and their history is no longer theirs (``db.accounts.personal``).
    """
    asn, identity = table(Asn), table(ChatIdentity)
    took_part = _any_delivery(window, confirmed=True)
    conditions = [
        asn.c.opd_id == opd_id,
        asn.c.active.is_(True),
        asn.c.erased_at.is_(None),
        took_part if participated else ~took_part,
    ]
    linked = select(identity.c.id).where(identity.c.asn_id == asn.c.id).exists()
    reachable = (
        select(identity.c.id)
        .where(identity.c.asn_id == asn.c.id, identity.c.reachable.is_(True))
        .exists()
    )
    conn = session.connection()
    total = conn.execute(select(func.count()).select_from(asn).where(*conditions)).scalar_one()
    rows = conn.execute(
        select(
            asn.c.nip,
            asn.c.nama,
            asn.c.jabatan,
            asn.c.opted_out_at.is_not(None),
            linked,
            reachable,
            _count(window, confirmed=False),
            _count(window, confirmed=True),
        )
        .where(*conditions)
        .order_by(asn.c.nama, asn.c.nip)
        .limit(limit)
        .offset(offset)
    ).all()
    return AsnPage(
        int(total),
        [
            AsnRow(
                nip=nip,
                nama=nama,
                jabatan=jabatan,
                registration=_registration(bool(opted_out), bool(is_linked), bool(is_reachable)),
                delivered=int(delivered),
                participated=int(confirmed),
            )
            for nip, nama, jabatan, opted_out, is_linked, is_reachable, delivered, confirmed in rows
        ],
    )


def _registration(opted_out: bool, linked: bool, reachable: bool) -> Registration:
    if opted_out:
        return Registration.OPTED_OUT
    if reachable:
        return Registration.REGISTERED
    return Registration.UNREACHABLE if linked else Registration.UNREGISTERED


@dataclass(frozen=True)
class FunnelRow:
    kode: str
    nama: str
    roster: int
    registered: int
    received: int
    participated: int


def funnel(session: Session, report: Participation) -> list[FunnelRow]:
    """Per OPD of the report, in people of its current roster: roster and registered as the
    participation table counts them, then who received at least one post, and who confirmed
    at least one, of those approved in the report's window."""
    assert report.window is not None
    asn, opd = table(Asn), table(Opd)
    conn = session.connection()

    def per_opd(condition: ColumnElement[bool]) -> dict[str, int]:
        stmt = (
            select(opd.c.kode, func.count())
            .select_from(asn)
            .join(opd, opd.c.id == asn.c.opd_id)
            .where(asn.c.active.is_(True), condition)
            .group_by(opd.c.kode)
        )
        return {kode: int(n) for kode, n in conn.execute(stmt)}

    received = per_opd(_any_delivery(report.window, confirmed=False))
    participated = per_opd(_any_delivery(report.window, confirmed=True))
    return [
        FunnelRow(
            kode=row.kode,
            nama=row.nama,
            roster=row.counts.asn_roster,
            registered=row.counts.asn_registered,
            received=received.get(row.kode, 0),
            participated=participated.get(row.kode, 0),
        )
        for row in report.rows
    ]
