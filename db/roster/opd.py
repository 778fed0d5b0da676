"""OPD (perangkat daerah): the agencies every report is grouped by."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from db.accounts.audit import record
from db.errors import NotFound
from db.models import Opd
from db.roster.file import read_table


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


OPD_COLUMNS_HINT = "kode,nama[,jenis]"
_OPD_ALIASES = {"opd_kode": "kode", "kode_opd": "kode", "opd_nama": "nama", "nama_opd": "nama"}
_KODE = re.compile(r"^[A-Z0-9][A-Z0-9_.\-]{0,31}$")


@dataclass(frozen=True)
class OpdRejected:
    line: int
    kode: str
    reason: str


@dataclass
class OpdImport:
    source: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[OpdRejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def packaged_opd_list() -> Traversable:
    """The regency's 58 OPD, shipped inside the package so an installed ``gaung`` has them."""
    return files("db") / "data" / "opd_mojokerto.csv"


def import_opd_file(session: Session, path: Path | None = None, *, actor: str = "cli") -> OpdImport:
    """``gaung opd import [FILE]``: load or update the OPD list before any roster arrives.

    New codes are added; a known code takes the file's name and type (the file is the list's
    source of truth, unlike a roster file, whose ``opd_nama`` only names OPDs it creates).
    Bad rows are reported with their line and skipped; a code seen twice keeps its first row.
    """
    if path is None:
        with as_file(packaged_opd_list()) as packaged:
            return _import_opd(session, packaged, "bawaan (opd_mojokerto.csv)", actor)
    return _import_opd(session, path, str(path.name), actor)


def _import_opd(session: Session, path: Path, source: str, actor: str) -> OpdImport:
    _, rows = read_table(
        path, required=("kode", "nama"), hint=OPD_COLUMNS_HINT, aliases=_OPD_ALIASES
    )
    report = OpdImport(source=source, rows=len(rows))
    existing = {o.kode: o for o in session.exec(select(Opd))}
    seen: dict[str, int] = {}
    for row in rows:
        kode = " ".join(str(row.cells.get("kode") or "").split()).upper()
        nama = " ".join(str(row.cells.get("nama") or "").split())
        jenis = " ".join(str(row.cells.get("jenis") or "").split()).lower() or None

        def reject(reason: str, *, line: int = row.line, kode: str = kode) -> None:
            report.rejected.append(OpdRejected(line, kode, reason))

        if not _KODE.match(kode):
            reject(f"kode OPD {kode!r} tidak sah: huruf, angka, '-', '_' atau '.', paling 32")
            continue
        if not nama or len(nama) > 200:
            reject("nama OPD kosong" if not nama else "nama OPD lebih dari 200 karakter")
            continue
        if jenis is not None and len(jenis) > 32:
            reject("jenis OPD lebih dari 32 karakter")
            continue
        if kode in seen:
            reject(f"kode OPD {kode} sudah ada di baris {seen[kode]}")
            continue
        seen[kode] = row.line
        opd = existing.get(kode)
        if opd is None:
            session.add(Opd(kode=kode, nama=nama, jenis=jenis))
            report.added += 1
        elif (opd.nama, opd.jenis) != (nama, jenis if jenis is not None else opd.jenis):
            opd.nama, opd.jenis = nama, jenis if jenis is not None else opd.jenis
            session.add(opd)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    record(
        session,
        actor,
        "opd.import",
        source,
        added=report.added,
        updated=report.updated,
        rejected=len(report.rejected),
    )
    return report
