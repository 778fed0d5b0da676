"""OPD (perangkat daerah): the agencies every report is grouped by."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.errors import NotFound
from db.models import Opd


def opd_by_kode(session: Session, kode: str) -> Opd:
    opd = session.exec(select(Opd).where(Opd.kode == kode.strip().upper())).first()
    if opd is None:
        raise NotFound(f"OPD dengan kode {kode!r} tidak dikenal")
    return opd


def all_opd(session: Session) -> list[Opd]:
    return list(session.exec(select(Opd).order_by(col(Opd.kode))))


def ensure_opd(session: Session, kode: str, nama: str, jenis: str | None = None) -> Opd:
    """Create the OPD if it is new; an existing OPD keeps its name."""
    kode = kode.strip().upper()
    opd = session.exec(select(Opd).where(Opd.kode == kode)).first()
    if opd is None:
        opd = Opd(kode=kode, nama=nama.strip(), jenis=jenis)
        session.add(opd)
        session.flush()
    return opd
