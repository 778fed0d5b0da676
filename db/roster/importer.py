"""Roster import: the regency's list of ASN, re-imported whenever BKPSDM sends a new one.

A bad row never stops the import: it is reported with its line number and reason, and the good
rows go in. Re-importing updates what changed and never duplicates, because the NIP is the key.
All rows are validated first and written in bulk, so 8,000 rows take seconds on either engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from db.accounts.audit import record
from db.models import Asn, AsnStatus, Opd
from db.roster.file import RawRow, read_roster
from db.roster.nip import InvalidNip, normalize_nip, reads_as_pns
from db.roster.phones import InvalidPhone, normalize_phone
from db.types import utcnow

MAX_NAME = 200


@dataclass(frozen=True)
class Rejected:
    line: int
    nip: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    opd_created: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Valid:
    line: int
    nip: str
    nama: str
    opd_kode: str
    opd_nama: str | None
    jabatan: str | None
    phone: str | None
    status: str | None


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _validate(
    rows: list[RawRow], known_opd: set[str], today: date | None
) -> tuple[list[_Valid], list[Rejected]]:
    valid: list[_Valid] = []
    rejected: list[Rejected] = []
    nip_line: dict[str, int] = {}
    phone_line: dict[str, int] = {}
    new_opd_names: dict[str, str] = {}
    for row in rows:
        cells = row.cells
        shown = _text(cells.get("nip"))

        def reject(reason: str, *, line: int = row.line, shown: str = shown) -> None:
            rejected.append(Rejected(line, shown, reason))

        try:
            nip = normalize_nip(cells.get("nip"), today=today)
        except InvalidNip as exc:
            reject(str(exc))
            continue
        nama = _text(cells.get("nama"))
        kode = _text(cells.get("opd_kode")).upper()
        opd_nama = _text(cells.get("opd_nama")) or None
        phone_raw = cells.get("telepon")
        phone: str | None = None
        status = _text(cells.get("status")).upper() or None
        if not nama:
            reject("nama kosong")
            continue
        if len(nama) > MAX_NAME:
            reject(f"nama lebih dari {MAX_NAME} karakter")
            continue
        if not kode:
            reject("opd_kode kosong")
            continue
        if kode not in known_opd and kode not in new_opd_names and not opd_nama:
            reject(f"kode OPD {kode} tidak dikenal dan opd_nama kosong")
            continue
        if _text(phone_raw):
            try:
                phone = normalize_phone(phone_raw)
            except InvalidPhone as exc:
                reject(str(exc))
                continue
        if status is not None and status not in AsnStatus.__members__:
            reject(f"status {status!r} tidak dikenal: isi PNS atau PPPK, atau kosongkan")
            continue
        if status == AsnStatus.PNS and not reads_as_pns(nip):
            reject("status PNS, tetapi NIP ini hanya terbaca sebagai NI PPPK")
            continue
        if nip in nip_line:
            reject(f"NIP sudah ada di baris {nip_line[nip]}")
            continue
        if phone is not None and phone in phone_line:
            reject(f"nomor telepon {phone} sudah ada di baris {phone_line[phone]}")
            continue
        nip_line[nip] = row.line
        if phone is not None:
            phone_line[phone] = row.line
        if kode not in known_opd and opd_nama:
            new_opd_names.setdefault(kode, opd_nama)
        jabatan = _text(cells.get("jabatan"))[:MAX_NAME] or None
        valid.append(_Valid(row.line, nip, nama, kode, opd_nama, jabatan, phone, status))
    return valid, rejected


def import_roster_file(
    session: Session,
    path: Path,
    *,
    full: bool = False,
    actor: str = "cli",
    today: date | None = None,
) -> ImportReport:
    _, rows = read_roster(path)
    report = import_rows(session, rows, full=full, today=today)
    record(session, actor, "roster.import", str(path.name), **report.as_dict() | {"full": full})
    return report


def import_rows(
    session: Session, rows: list[RawRow], *, full: bool = False, today: date | None = None
) -> ImportReport:
    report = ImportReport(rows=len(rows))
    opd_ids = {o.kode: o.id for o in session.exec(select(Opd))}
    valid, rejected = _validate(rows, set(opd_ids), today)
    report.rejected = rejected

    for row in valid:
        if row.opd_kode not in opd_ids:
            opd = Opd(kode=row.opd_kode, nama=row.opd_nama or row.opd_kode)
            session.add(opd)
            session.flush()
            opd_ids[row.opd_kode] = opd.id
            report.opd_created.append(row.opd_kode)

    existing: dict[str, Asn] = {a.nip: a for a in session.exec(select(Asn))}
    phone_owner: dict[str, str] = {a.phone: a.nip for a in existing.values() if a.phone}
    new_phone = {row.nip: row.phone for row in valid if row.phone}

    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    phone_moves: list[int] = []
    for row in valid:
        if row.phone is not None:
            owner = phone_owner.get(row.phone)
            # A phone held by another ASN is a conflict unless the file moves it away from them.
            if (
                owner is not None
                and owner != row.nip
                and new_phone.get(owner, row.phone) == row.phone
            ):
                report.rejected.append(
                    Rejected(
                        row.line, row.nip, f"nomor telepon {row.phone} milik ASN lain (NIP {owner})"
                    )
                )
                continue
        current = existing.get(row.nip)
        values: dict[str, Any] = {
            "nama": row.nama,
            "opd_id": opd_ids[row.opd_kode],
            "jabatan": row.jabatan,
            "active": True,
            "left_at": None,
        }
        if row.phone is not None:
            values["phone"] = row.phone
        if row.status is not None:  # a file without the column leaves what is known
            values["status"] = row.status
        if current is None:
            inserts.append(
                values
                | {
                    "nip": row.nip,
                    "phone": row.phone,
                    "status": row.status,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            report.added += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(current, k) != v}
        if not changed:
            report.unchanged += 1
            continue
        if "phone" in changed and current.phone is not None:
            phone_moves.append(current.id)  # type: ignore[arg-type]
        updates.append(changed | {"id": current.id, "updated_at": now})
        report.updated += 1

    if phone_moves:
        # Free the old numbers first so that two ASN swapping phones never collide.
        session.exec(update(Asn).where(col(Asn.id).in_(phone_moves)).values(phone=None))
    if updates:
        session.exec(update(Asn), params=updates)
    if inserts:
        session.exec(insert(Asn), params=inserts)
    if full:
        seen = {row.nip for row in valid}
        gone = [a.id for nip, a in existing.items() if nip not in seen and a.active]
        for chunk in range(0, len(gone), 500):
            session.exec(
                update(Asn)
                .where(col(Asn.id).in_(gone[chunk : chunk + 500]))
                .values(active=False, left_at=now, updated_at=now)
            )
        report.deactivated = len(gone)
    report.rejected.sort(key=lambda r: r.line)
    session.flush()
    return report
