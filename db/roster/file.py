"""Reading roster and OPD files (CSV or XLSX) as exported by real offices.

Headers come in any case and spacing (``NIP``, ``Opd Kode``, `` opd_kode ``); CSV may be
comma-, semicolon- or tab-separated (Indonesian Excel writes ``;``), with or without a BOM.
Cells keep their original type so that a NIP stored by Excel as a number can be recognised.

A file is checked before it is parsed, so that a wrong or hostile file costs little: at most
``MAX_FILE_BYTES`` on disk; a CSV must be text; an XLSX must be a ZIP archive whose entries
declare at most ``MAX_UNPACKED_BYTES`` in all (a "zip bomb" of a few kilobytes that unpacks
to gigabytes is refused from its directory, before a byte is inflated; Python's zipfile never
inflates an entry past its declared size). Rows beyond ``MAX_ROWS`` and columns beyond
``MAX_COLUMNS`` are not read. Every refusal is one ``Invalid`` line.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from db.errors import Invalid

REQUIRED_COLUMNS = ("nip", "nama", "opd_kode")
OPTIONAL_COLUMNS = ("opd_nama", "jabatan", "telepon", "status")
ROSTER_HINT = "nip,nama,opd_kode,opd_nama[,jabatan][,telepon][,status]"
_ALIASES = {"kode_opd": "opd_kode", "nama_opd": "opd_nama", "phone": "telepon", "hp": "telepon"}

MAX_FILE_BYTES = 32 * 1024 * 1024  # a roster of 100 thousand ASN is under 15 MB as CSV
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_ZIP_ENTRIES = 2_000
MAX_ROWS = 200_000
MAX_COLUMNS = 64
MAX_CELL_CHARS = 10_000


@dataclass(frozen=True)
class RawRow:
    line: int
    cells: dict[str, object]


def _column_name(header: object, aliases: dict[str, str]) -> str:
    name = re.sub(r"[\s\-]+", "_", str(header or "").strip().lower()).strip("_")
    return aliases.get(name, name)


def _columns(
    headers: Sequence[object], required: Iterable[str], hint: str, aliases: dict[str, str]
) -> list[str]:
    names = [_column_name(h, aliases) for h in headers]
    missing = [c for c in required if c not in names]
    if missing:
        raise Invalid(
            f"kolom wajib tidak ada: {', '.join(missing)} (kolom yang dibutuhkan: {hint})"
        )
    return names


def read_roster(path: Path) -> tuple[list[str], list[RawRow]]:
    """Return the normalised column names and the non-empty rows with their line numbers."""
    return read_table(path, required=REQUIRED_COLUMNS, hint=ROSTER_HINT, aliases=_ALIASES)


def read_table(
    path: Path,
    *,
    required: Iterable[str],
    hint: str,
    aliases: dict[str, str] | None = None,
) -> tuple[list[str], list[RawRow]]:
    """Any of our tabular files: checked, then read with the first row as the header."""
    if not path.is_file():
        raise Invalid(f"berkas {path} tidak ditemukan")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise Invalid(
            f"berkas {path.name} terlalu besar ({size // (1024 * 1024)} MB; paling besar "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB)"
        )
    suffix = path.suffix.lower()
    required, aliases = tuple(required), aliases or {}
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, required, hint, aliases)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, required, hint, aliases)
    if suffix == ".xls":
        raise Invalid("format .xls (Excel lama) tidak didukung: simpan ulang sebagai XLSX atau CSV")
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


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF"))


def _read_csv(
    path: Path, required: tuple[str, ...], hint: str, aliases: dict[str, str]
) -> tuple[list[str], list[RawRow]]:
    data = path.read_bytes()
    if _looks_binary(data[:8192]):
        raise Invalid(f"berkas {path.name} bukan CSV (isinya biner): pakai CSV atau XLSX")
    text = _decode(data)
    del data
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[RawRow] = []
    try:
        try:
            header_cells: list[str] = next(reader)
        except StopIteration:
            raise Invalid("berkas kosong") from None
        columns = _columns(list(header_cells[:MAX_COLUMNS]), required, hint, aliases)
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if any(cell.strip() for cell in record):
                if len(rows) >= MAX_ROWS:
                    raise Invalid(f"berkas lebih dari {MAX_ROWS} baris: pecah menjadi beberapa")
                rows.append(RawRow(start, dict(zip(columns, record, strict=False))))
    except csv.Error as exc:
        raise Invalid(f"berkas CSV rusak di baris {reader.line_num}: {exc}") from None
    return columns, rows


def _check_zip(path: Path) -> None:
    """Refuse what is not an XLSX, or would unpack to far more than any roster."""
    with path.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            raise Invalid(f"berkas {path.name} bukan XLSX (bukan arsip ZIP): pakai CSV atau XLSX")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise Invalid(f"berkas XLSX rusak: {exc}") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise Invalid(f"berkas XLSX berisi {len(entries)} bagian: bukan roster, ditolak")
    unpacked = sum(e.file_size for e in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        raise Invalid(
            f"berkas XLSX mengembang menjadi {unpacked // (1024 * 1024)} MB saat dibuka "
            f"(paling besar {MAX_UNPACKED_BYTES // (1024 * 1024)} MB): ditolak"
        )
    if not any(e.filename.startswith("xl/worksheets/") for e in entries):
        raise Invalid(f"berkas {path.name} bukan XLSX (tidak ada lembar kerja)")


def _read_xlsx(
    path: Path, required: tuple[str, ...], hint: str, aliases: dict[str, str]
) -> tuple[list[str], list[RawRow]]:
    from openpyxl import load_workbook

    _check_zip(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise Invalid(f"berkas XLSX tidak bisa dibaca: {' '.join(str(exc).split())}") from None
    try:
        sheet = workbook.worksheets[0]
        values: Iterator[tuple[object, ...]] = sheet.iter_rows(
            values_only=True, max_col=MAX_COLUMNS
        )
        try:
            columns = _columns(list(next(values)), required, hint, aliases)
        except StopIteration:
            raise Invalid("berkas kosong") from None
        rows: list[RawRow] = []
        for number, record in enumerate(values, start=2):
            if any(cell is not None and str(cell).strip() for cell in record):
                if len(rows) >= MAX_ROWS:
                    raise Invalid(f"berkas lebih dari {MAX_ROWS} baris: pecah menjadi beberapa")
                cells = {
                    name: value[:MAX_CELL_CHARS] if isinstance(value, str) else value
                    for name, value in zip(columns, record, strict=False)
                }
                rows.append(RawRow(number, cells))
    except Invalid:
        raise
    except Exception as exc:  # a damaged sheet fails while it is read, not when opened
        raise Invalid(f"berkas XLSX tidak bisa dibaca: {' '.join(str(exc).split())}") from None
    finally:
        workbook.close()
    return columns, rows
