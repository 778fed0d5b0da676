"""The participation table as files: CSV for scripts, XLSX for the reports people print.

Text cells come from roster files and admins (an OPD name, a caption), so a cell beginning
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets strip
before reading a formula) is written as text, never as a formula (OWASP's "CSV injection"):
in CSV with a leading apostrophe, in XLSX as a string cell with Excel's quote prefix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from db.reporting.participation import Participation
from db.reporting.window import local_iso

HEADERS = (
    ("kode", "Kode OPD", 14),
    ("nama", "Nama OPD", 44),
    ("asn_roster", "ASN (roster)", 13),
    ("asn_registered", "ASN terdaftar", 14),
    ("registration_rate", "Tingkat pendaftaran", 20),
    ("delivered", "Terkirim", 11),
    ("liked", "Like (dikonfirmasi sendiri)", 27),
    ("shared", "Share (dikonfirmasi sendiri)", 28),
    ("participated", "Berpartisipasi", 15),
    ("participation_rate", "Tingkat partisipasi", 20),
    ("opened", "Dibuka (diukur)", 16),
    ("shared_with_evidence", "Share dengan tautan bukti (dikonfirmasi sendiri)", 30),
)
RATE_COLUMNS = {"registration_rate", "participation_rate"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(value: object) -> object:
    """A string a spreadsheet would read as a formula, made inert for CSV."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _records(report: Participation) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"kode": r.kode, "nama": r.nama} | r.counts.as_dict() for r in report.rows
    ]
    rows.append({"kode": "TOTAL", "nama": "Kabupaten (semua OPD)"} | report.total.as_dict())
    return rows


def to_csv(report: Participation) -> str:
    """Machine-readable: the API's field names as the header, rates as fractions."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[key for key, _, _ in HEADERS], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: as_text(v) for k, v in record.items()} for record in _records(report))
    return out.getvalue()


def _bold(cells: Iterable[Any]) -> None:
    from openpyxl.styles import Font

    for cell in cells:
        cell.font = Font(bold=True)


def to_xlsx(report: Participation, tz: ZoneInfo) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Partisipasi"
    if report.window is not None:
        start, end = local_iso(report.window.start, tz), local_iso(report.window.end, tz)
        sheet.append([f"Partisipasi ASN per OPD, {start} s.d. {end} (WIB, akhir tidak termasuk)"])
    else:
        sheet.append(["Partisipasi ASN per OPD"])
    sheet.append(
        [
            "Like dan share dikonfirmasi sendiri oleh ASN; terkirim diukur dari saluran, dibuka "
            "diukur dari tautan pelacak Gaung."
        ]
    )
    sheet.append([label for _, label, _ in HEADERS])
    header_row = sheet.max_row
    _bold(sheet[header_row])
    sheet["A1"].font = Font(bold=True, size=12)
    for record in _records(report):
        sheet.append([record[key] for key, _, _ in HEADERS])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type = "s"  # openpyxl took a leading "=" for a formula
                cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
    for index, (key, _, width) in enumerate(HEADERS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if key in RATE_COLUMNS:
            for (rate_cell,) in sheet.iter_rows(
                min_row=header_row + 1, min_col=index, max_col=index
            ):
                rate_cell.number_format = "0.0%"
    _bold(sheet[sheet.max_row])
    sheet.freeze_panes = f"A{header_row + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
