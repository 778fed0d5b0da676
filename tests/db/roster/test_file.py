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


def test_a_zip_bomb_named_xlsx_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = tmp_path / "roster.xlsx"
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            for _ in range(300):
                entry.write(chunk)
    assert bomb.stat().st_size < 2 * 1024 * 1024  # small on disk, 300 MB unpacked
    tracemalloc.start()
    try:
        with pytest.raises(Invalid) as exc:
            read_roster(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "mengembang menjadi 300 MB" in _one_line(exc)
    assert peak < 32 * 1024 * 1024  # nothing near the 300 MB it would unpack to


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
