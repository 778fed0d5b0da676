"""Reading roster files (CSV or XLSX) as exported by real offices.

Headers come in any case and spacing (``NIP``, ``Opd Kode``, `` opd_kode ``); CSV may be
comma-, semicolon- or tab-separated (Indonesian Excel writes ``;``), with or without a BOM.
Cells keep their original type so that a NIP stored by Excel as a number can be recognised.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from db.errors import Invalid

REQUIRED_COLUMNS = ("nip", "nama", "opd_kode")
OPTIONAL_COLUMNS = ("opd_nama", "jabatan", "telepon", "status")
_ALIASES = {"kode_opd": "opd_kode", "nama_opd": "opd_nama", "phone": "telepon", "hp": "telepon"}


@dataclass(frozen=True)
class RawRow:
    line: int
    cells: dict[str, object]


def _column_name(header: object) -> str:
    name = re.sub(r"[\s\-]+", "_", str(header or "").strip().lower()).strip("_")
    return _ALIASES.get(name, name)


def _columns(headers: list[object]) -> list[str]:
    names = [_column_name(h) for h in headers]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise Invalid(
            f"kolom wajib tidak ada: {', '.join(missing)} "
            f"(kolom yang dibutuhkan: nip,nama,opd_kode,opd_nama[,jabatan][,telepon][,status])"
        )
    return names


def read_roster(path: Path) -> tuple[list[str], list[RawRow]]:
    """Return the normalised column names and the non-empty rows with their line numbers."""
    if not path.is_file():
        raise Invalid(f"berkas {path} tidak ditemukan")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt"):
        return _read_csv(path)
    raise Invalid(
        f"format berkas {suffix or '(tanpa ekstensi)'} tidak didukung: pakai CSV atau XLSX"
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_csv(path: Path) -> tuple[list[str], list[RawRow]]:
    text = _decode(path.read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers: list[object] = list(next(reader))
    except StopIteration:
        raise Invalid("berkas kosong") from None
    columns = _columns(headers)
    rows: list[RawRow] = []
    line = reader.line_num
    for record in reader:
        start, line = line + 1, reader.line_num
        if any(cell.strip() for cell in record):
            rows.append(RawRow(start, dict(zip(columns, record, strict=False))))
    return columns, rows


def _read_xlsx(path: Path) -> tuple[list[str], list[RawRow]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise Invalid(f"berkas XLSX tidak bisa dibaca: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        values: Iterator[tuple[object, ...]] = sheet.iter_rows(values_only=True)
        try:
            columns = _columns(list(next(values)))
        except StopIteration:
            raise Invalid("berkas kosong") from None
        rows = [
            RawRow(number, dict(zip(columns, record, strict=False)))
            for number, record in enumerate(values, start=2)
            if any(cell is not None and str(cell).strip() for cell in record)
        ]
    finally:
        workbook.close()
    return columns, rows
