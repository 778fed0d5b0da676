"""``opd_people``, the roster and registration counts the database keeps per OPD and status,
equals a recount from ``asn`` and ``chat_identity`` after every kind of change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, delete, update
from sqlmodel import Session

from db.accounts.identities import mark_inbound, mark_unreachable, opt_in, opt_out
from db.accounts.personal import erase_asn
from db.accounts.retention import purge_expired
from db.delivery.confirmations import _mark_inbound
from db.models import Asn, Channel, ChatIdentity, OpdPeople, table
from db.reporting.participation import kept_people_counts, participation, plain_people_counts
from db.roster.file import RawRow
from db.roster.importer import import_rows
from db.types import utcnow
from tests.factories import TODAY, add_asn, register

People = dict[tuple[int, str], tuple[int, int]]


def counts(session: Session, statement: Select[Any]) -> People:
    return {(o, s): (r, g) for o, s, r, g in session.connection().execute(statement)}


def in_step(session: Session) -> People:
    session.flush()
    counted = counts(session, plain_people_counts())
    assert counts(session, kept_people_counts()) == counted
    return counted


def import_one(session: Session, nip: str, opd: str, status: str | None) -> None:
    row = {"nip": nip, "nama": f"ASN {nip[-5:]}", "opd_kode": opd, "status": status or ""}
    report = import_rows(session, [RawRow(2, row)], today=TODAY)
    assert not report.rejected, report.rejected


def test_opd_people_follows_every_change(session: Session) -> None:
    a1, a2, b1 = (add_asn(session, opd=o) for o in ("A", "A", "B"))
    assert in_step(session)  # roster import: new ASN
    assert a1.id is not None and a2.id is not None and b1.id is not None
    a1_telegram = register(session, a1)
    register(session, a1, channel=Channel.WHATSAPP)  # one person on two channels counts once
    b1_telegram = register(session, b1)
    counted = in_step(session)
    assert sum(r for r, _ in counted.values()) == 3
    assert sum(g for _, g in counted.values()) == 2

    mark_unreachable(session, a1_telegram, "Forbidden: bot was blocked")
    in_step(session)  # still reachable on WhatsApp
    mark_unreachable(session, b1_telegram, "Forbidden: bot was blocked")
    assert sum(g for _, g in in_step(session).values()) == 1
    _mark_inbound(session, [b1_telegram.id or 0], utcnow())  # a tap: reachable again
    session.expire_all()
    in_step(session)
    mark_inbound(session, b1_telegram)  # already reachable: nothing to change
    in_step(session)

    opt_out(session, a1)
    assert sum(g for _, g in in_step(session).values()) == 1
    opt_in(session, a1)
    in_step(session)

    # Re-import moves a2 to OPD B with a status, then a1 gets one too.
    import_one(session, a2.nip, "B", "PPPK")
    in_step(session)
    import_one(session, a1.nip, "A", "PPPK")
    assert "PPPK" in {s for _, s in in_step(session)}

    # A full import without b1: b1 leaves the roster (inactive).
    session.expire_all()
    rows = [
        RawRow(2, {"nip": a1.nip, "nama": a1.nama, "opd_kode": "A"}),
        RawRow(3, {"nip": a2.nip, "nama": a2.nama, "opd_kode": "B"}),
    ]
    assert not import_rows(session, rows, full=True, today=TODAY).rejected
    counted = in_step(session)
    assert sum(r for r, _ in counted.values()) == 2

    # Retention: b1 left long ago, so their identity goes.
    asn = table(Asn)
    session.connection().execute(
        update(asn).where(asn.c.id == b1.id).values(left_at=utcnow() - timedelta(days=4000))
    )
    purge_expired(session, months=1)
    in_step(session)

    # Erasure forgets every chat account of the person.
    session.expire_all()
    erase_asn(session, a1)
    in_step(session)

    # Raw SQL counts too: an identity moved to another person, then a person deleted.
    c1 = add_asn(session, opd="C")
    c_identity = register(session, c1)
    identity = table(ChatIdentity)
    session.connection().execute(
        update(identity).where(identity.c.id == c_identity.id).values(asn_id=a2.id)
    )
    in_step(session)
    session.connection().execute(delete(identity).where(identity.c.asn_id == a2.id))
    in_step(session)
    session.expunge_all()  # the ORM still holds the rows deleted behind its back
    c1 = session.get(Asn, c1.id)
    assert c1 is not None
    register(session, c1)
    in_step(session)
    session.connection().execute(delete(asn).where(asn.c.id == c1.id))
    assert not any(o == c1.opd_id for o, _ in in_step(session))


def test_report_reads_the_kept_counts(session: Session) -> None:
    """A count changed behind the triggers' back shows in the report: it reads the table."""
    register(session, add_asn(session, opd="K"))
    session.flush()
    people = table(OpdPeople)
    session.connection().execute(update(people).values(roster=41, registered=40))
    (row,) = [r for r in participation(session, None).rows if r.kode == "K"]
    assert (row.counts.asn_roster, row.counts.asn_registered) == (41, 40)
