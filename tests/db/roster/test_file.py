"""Hostile or mistaken roster files are refused with one line, cheaply."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import pytest

from db.errors import Invalid
from db.roster import file as roster_file
from db.roster.file import read_roster

HEADER = "nip,nama,opd_kode,opd_nama\n"
ROW = "198503122010011004,Budi,DINKES,Dinas Kesehatan\n"


def _one_line(exc: pytest.ExceptionInfo[Invalid]) -> str:
    message = exc.value.message
    assert "\n" not in message
    return message


def _refused_within(path: Path, memory: int) -> str:
    """``path`` refused, in one line (returned), having allocated less than ``memory`` bytes."""
    tracemalloc.start()
    try:
        with pytest.raises(Invalid) as exc:
            read_roster(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < memory, f"{peak / 1e6:.0f} MB"
    return _one_line(exc)


def test_a_zip_bomb_named_xlsx_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = tmp_path / "roster.xlsx"
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            for _ in range(300):
                entry.write(chunk)
    assert bomb.stat().st_size < 2 * 1024 * 1024  # small on disk, 300 MB unpacked
    # Nothing near the 300 MB it would unpack to.
    assert "mengembang menjadi 300 MB" in _refused_within(bomb, 32 * 1024 * 1024)


@pytest.mark.parametrize(
    ("limit", "value", "rows", "said"),
    [
        # 27 bytes of header and 47 a row: 21 rows fit in 1 KiB, 22 do not (refused unread).
        ("MAX_FILE_BYTES", 1024, 21, "terlalu besar"),
        ("MAX_ROWS", 3, 3, "lebih dari 3 baris"),
    ],
)
def test_a_file_past_a_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, value: int, rows: int, said: str
) -> None:
    monkeypatch.setattr(roster_file, limit, value)
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + ROW * (rows + 1), encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        read_roster(path)
    assert said in _one_line(exc)
    path.write_text(HEADER + ROW * rows, encoding="utf-8")
    assert len(read_roster(path)[1]) == rows


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("roster.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "bukan CSV"),
        ("roster.csv", b"PK\x03\x04" + b"\0" * 40, "bukan CSV"),
        ("roster.xlsx", (HEADER + ROW).encode(), "bukan XLSX"),
        ("roster.xlsx", b"PK\x03\x04 not really a zip", "XLSX rusak"),
        ("roster.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel lama"),
        ("roster.pdf", b"%PDF-1.4", "tidak didukung"),
        ("roster.csv", (HEADER + '"' + "x" * 200_000 + '"\n').encode(), "CSV rusak"),
    ],
)
def test_files_that_are_not_csv_or_xlsx_are_refused(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Invalid) as exc:
        read_roster(path)
    assert reason in _one_line(exc)


def test_a_zip_without_a_worksheet_is_not_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "roster.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    with pytest.raises(Invalid) as exc:
        read_roster(path)
    assert "tidak ada lembar kerja" in _one_line(exc)


def test_a_real_workbook_with_a_bomb_of_shared_strings_is_refused_memory_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bomb that would hurt: a valid workbook whose ``xl/sharedStrings.xml`` (which openpyxl
    loads whole, even read-only) unpacks to far more than a roster. Scaled down (a limit of
    4 MB, a 40 MB table) so that, were the check gone, this test would measure the damage
    instead of exhausting the machine."""
    from openpyxl import Workbook

    monkeypatch.setattr(roster_file, "MAX_UNPACKED_BYTES", 4 * 1024 * 1024)
    plain = tmp_path / "plain.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["nip", "nama", "opd_kode", "opd_nama"])
    sheet.append(["198503122010011004", "Budi", "DINKES", "Dinas Kesehatan"])
    book.save(plain)
    bomb = tmp_path / "roster.xlsx"
    strings = b"<si><t>" + b"x" * 1000 + b"</t></si>"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for item in source.infolist():
            if item.filename != "xl/sharedStrings.xml":
                zf.writestr(item, source.read(item.filename))
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as entry:
            entry.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for _ in range(40 * 1024):
                entry.write(strings)
            entry.write(b"</sst>")
    assert bomb.stat().st_size < 1024 * 1024
    assert len(read_roster(plain)[1]) == 1  # the workbook itself reads fine
    assert "mengembang" in _refused_within(bomb, 4 * 1024 * 1024)
