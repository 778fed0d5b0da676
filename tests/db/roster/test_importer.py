from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Protocol

import pytest
from openpyxl import Workbook
from sqlmodel import Session, col, select

from db.errors import Invalid
from db.models import Asn, AuditLog, Opd
from db.roster.importer import ImportReport, import_roster_file

TODAY = date(2026, 11, 22)
HEADER = "nip,nama,opd_kode,opd_nama,jabatan,telepon"
A = "198503122010011004"
B = "199001012015032001"
C = "197712302005011002"


def write(tmp_path: Path, *lines: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Roster(Protocol):
    def __call__(self, *rows: str, name: str = "roster.csv") -> Path: ...


@pytest.fixture
def roster(tmp_path: Path) -> Roster:
    """Writes a roster file with the standard header into the test's folder."""

    def write_roster(*rows: str, name: str = "roster.csv") -> Path:
        return write(tmp_path, HEADER, *rows, name=name)

    return write_roster


def run(session: Session, path: Path, *, full: bool = False) -> ImportReport:
    report = import_roster_file(session, path, full=full, today=TODAY)
    session.commit()
    return report


def asn(session: Session, nip: str) -> Asn:
    found = session.exec(select(Asn).where(Asn.nip == nip)).one()
    session.refresh(found)
    return found


def test_messy_but_valid_rows_are_cleaned(session: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        " NIP ;Nama; OPD Kode ;Opd_Nama;JABATAN;Telepon",
        "1985 0312 2010 01 1 004;  Budi   Santoso ;dinkes;Dinas Kesehatan;Perawat;0812-3456-7890",
        "1990.0101.2015.03.2.001;Sri Wahyuni;DINKES;Dinas Kesehatan;;6281298765432",
        "197712302005011002;Agus;dinkes;;Staf;+62 813 1111 2222",
    )
    report = run(session, path)
    assert (report.added, report.rejected, report.opd_created) == (3, [], ["DINKES"])
    budi = asn(session, A)
    assert (budi.nama, budi.phone, budi.jabatan, budi.active) == (
        "Budi Santoso",
        "+6281234567890",
        "Perawat",
        True,
    )
    assert asn(session, B).phone == "+6281298765432"
    assert asn(session, B).jabatan is None
    assert asn(session, C).phone == "+6281311112222"
    opd = session.exec(select(Opd)).one()
    assert (opd.kode, opd.nama) == ("DINKES", "Dinas Kesehatan")
    audit = session.exec(select(AuditLog).where(AuditLog.action == "roster.import")).one()
    assert audit.actor == "cli" and '"added": 3' in (audit.details or "")


def test_every_kind_of_bad_row_is_reported_and_skipped(session: Session, roster: Roster) -> None:
    path = roster(
        f"{A},Budi,DINKES,Dinas Kesehatan,,081234567890",  # line 2: good
        "19850312201001100,Pendek,DINKES,,,",  # 3: 17 digits
        "198513122010011004,Bulan13,DINKES,,,",  # 4: impossible birth date
        "198503122010013004,Seks3,DINKES,,,",  # 5: sex digit
        "1.98503E+17,Excel,DINKES,,,",  # 6: Excel number
        f"{A},Kembar,DINKES,,,",  # 7: duplicate NIP
        f"{B},Telepon Kembar,DINKES,,,0812-3456-7890",  # 8: duplicate phone
        f"{C},,DINKES,,,",  # 9: empty name
        "196801011990031003,Tanpa OPD,ZZZ,,,",  # 10: unknown OPD without name
        "196801011990031004,Telepon Rusak,DINKES,,,12345",  # 11: bad phone
        "196801011990031005,OPD Baru,BARU,Badan Baru,,",  # 12: good, creates OPD
    )
    report = run(session, path)
    assert report.rows == 11 and report.added == 2
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "18 digit" in reasons[3]
    assert "tanggal lahir" in reasons[4]
    assert "jenis kelamin" in reasons[5]
    assert "notasi ilmiah" in reasons[6]
    assert reasons[7] == "NIP sudah ada di baris 2"
    assert reasons[8] == "nomor telepon +6281234567890 sudah ada di baris 2"
    assert reasons[9] == "nama kosong"
    assert "ZZZ" in reasons[10] and "opd_nama" in reasons[10]
    assert "tidak valid" in reasons[11] or "tidak dikenali" in reasons[11]
    assert report.opd_created == ["DINKES", "BARU"]
    assert asn(session, A).nama == "Budi"  # the first row stands
    assert session.exec(select(Asn).where(Asn.nip == B)).first() is None


def test_reimport_updates_and_never_duplicates(session: Session, roster: Roster) -> None:
    first = roster(
        f"{A},Budi,DINKES,Dinas Kesehatan,Perawat,081234567890",
        f"{B},Sri,DINKES,Dinas Kesehatan,,081298765432",
        f"{C},Agus,DINKES,Dinas Kesehatan,,",
    )
    assert run(session, first).added == 3
    second = roster(
        f"{A},Budi Santoso,DISKOMINFO,Dinas Kominfo,Pranata Komputer,081234567890",
        f"{B},Sri,DINKES,Dinas Kesehatan,,081298765432",
        f"{C},Agus,DINKES,Dinas Kesehatan,,081377778888",
        name="again.csv",
    )
    report = run(session, second)
    assert (report.added, report.updated, report.unchanged, report.rejected) == (0, 2, 1, [])
    budi = asn(session, A)
    assert (budi.nama, budi.jabatan) == ("Budi Santoso", "Pranata Komputer")
    opd = session.get(Opd, budi.opd_id)
    assert opd is not None and opd.kode == "DISKOMINFO"
    assert asn(session, C).phone == "+6281377778888"
    assert len(session.exec(select(Asn)).all()) == 3
    assert run(session, second).unchanged == 3


def test_swapping_phones_between_two_asn_works(session: Session, roster: Roster) -> None:
    run(session, roster(f"{A},Budi,X,X,,081111111111", f"{B},Sri,X,X,,082222222222"))
    report = run(session, roster(f"{A},Budi,X,X,,082222222222", f"{B},Sri,X,X,,081111111111"))
    assert (report.updated, report.rejected) == (2, [])
    assert asn(session, A).phone == "+6282222222222"
    assert asn(session, B).phone == "+6281111111111"


def test_a_phone_held_by_someone_else_is_refused(session: Session, roster: Roster) -> None:
    run(session, roster(f"{A},Budi,X,X,,081111111111"))
    report = run(session, roster(f"{B},Sri,X,X,,081111111111"))
    assert report.added == 0
    assert [(r.line, r.reason) for r in report.rejected] == [
        (2, f"nomor telepon +6281111111111 milik ASN lain (NIP {A})")
    ]


def test_full_import_deactivates_the_absent_and_never_deletes(
    session: Session, roster: Roster
) -> None:
    run(session, roster(f"{A},Budi,X,X,,", f"{B},Sri,X,X,,", f"{C},Agus,X,X,,"))
    partial = roster(f"{A},Budi,X,X,,")
    assert run(session, partial).deactivated == 0  # without --full nobody is touched
    assert asn(session, B).active
    report = run(session, partial, full=True)
    assert report.deactivated == 2
    assert [asn(session, n).active for n in (A, B, C)] == [True, False, False]
    back = run(session, roster(f"{A},Budi,X,X,,", f"{B},Sri,X,X,,"), full=True)
    assert (back.updated, back.deactivated) == (1, 0)
    assert asn(session, B).active


def test_xlsx_with_numeric_nip_cells(session: Session, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["NIP", "Nama", "OPD_KODE", "OPD_NAMA", "Telepon"])
    sheet.append([A, "Budi", "DINKES", "Dinas Kesehatan", "0812-3456-7890"])
    sheet.append([1.98503122010011e17, "Rusak", "DINKES", "Dinas Kesehatan", None])
    sheet.append([None, None, None, None, None])
    sheet.append([B, "Sri", "DINKES", "Dinas Kesehatan", 81298765432])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    report = run(session, path)
    assert report.added == 2
    assert [(r.line, "dibulatkan" in r.reason) for r in report.rejected] == [(3, True)]
    assert asn(session, B).phone == "+6281298765432"


def test_missing_columns_and_unknown_formats_stop_before_writing(
    session: Session, tmp_path: Path, roster: Roster
) -> None:
    with pytest.raises(Invalid, match="opd_kode"):
        import_roster_file(session, write(tmp_path, "nip,nama", f"{A},Budi"))
    with pytest.raises(Invalid, match="tidak didukung"):
        import_roster_file(session, roster(name="roster.pdf"))
    with pytest.raises(Invalid, match="tidak ditemukan"):
        import_roster_file(session, tmp_path / "absent.csv")
    assert session.exec(select(Asn).where(col(Asn.id) > 0)).first() is None


def test_semicolon_csv_with_bom_and_crlf(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        (f"\ufeffnip;nama;opd_kode;opd_nama\r\n{A};Budi;DINKES;Dinas Kesehatan\r\n").encode()
    )
    assert run(session, path).added == 1


PPPK = "199009132023211014"  # 21 work agreements: not a month


def test_status_column_and_pppk_numbers(session: Session, tmp_path: Path, roster: Roster) -> None:
    path = write(
        tmp_path,
        HEADER + ",status",
        f"{A},Ani,DINKES,Dinas Kesehatan,,,PNS",
        f"{PPPK},Pipit,DINKES,,,,pppk",
        f"{B},Budi,DINKES,,,,",
        f"{C},Cici,DINKES,,,,honorer",
        "199009132023211015,Pura,DINKES,,,,PNS",
    )
    report = run(session, path)
    assert report.added == 3
    assert [(r.line, r.reason) for r in report.rejected] == [
        (5, "status 'HONORER' tidak dikenal: isi PNS atau PPPK, atau kosongkan"),
        (6, "status PNS, tetapi NIP ini hanya terbaca sebagai NI PPPK"),
    ]
    assert [asn(session, n).status for n in (A, PPPK, B)] == ["PNS", "PPPK", None]
    # A later file without the column leaves the status as it was.
    run(session, roster(f"{PPPK},Pipit S,DINKES,,,", name="b.csv"))
    assert (asn(session, PPPK).nama, asn(session, PPPK).status) == ("Pipit S", "PPPK")


def test_a_repeated_nip_or_phone_keeps_the_first_row(session: Session, roster: Roster) -> None:
    path = roster(
        f"{A},Pertama,DINKES,Dinas Kesehatan,,0812-3456-7890",
        f"{B},Kedua,DINKES,,,081234567890",
        f"{A},Ketiga,DINKES,,,",
    )
    report = run(session, path)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "nomor telepon +6281234567890 sudah ada di baris 2"),
        (4, "NIP sudah ada di baris 2"),
    ]
    assert (asn(session, A).nama, asn(session, A).phone) == ("Pertama", "+6281234567890")


def test_leaving_the_roster_is_dated_and_coming_back_clears_it(
    session: Session, roster: Roster
) -> None:
    run(session, roster(f"{A},Ani,DINKES,Dinas Kesehatan,,", f"{B},Bo,DINKES,,,"))
    run(session, roster(f"{A},Ani,DINKES,,,", name="b.csv"), full=True)
    gone = asn(session, B)
    assert (gone.active, gone.left_at is not None) == (False, True)
    run(session, roster(f"{B},Bo,DINKES,,,", name="c.csv"))
    back = asn(session, B)
    assert (back.active, back.left_at) == (True, None)
