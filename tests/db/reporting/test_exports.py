"""Exports never hand a spreadsheet a formula from a roster file or an admin."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlmodel import Session

from db.reporting.activity import activity
from db.reporting.activity import to_csv as activity_csv
from db.reporting.exports import to_csv, to_xlsx
from db.reporting.participation import participation
from db.reporting.window import Window
from db.roster.opd import ensure_opd

WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
NASTY = {
    "EQ": '=HYPERLINK("http://evil.test","klik")',
    "PLUS": "+1+2",
    "MINUS": "-1+cmd|' /C calc'!A0",
    "AT": "@SUM(A1:A2)",
    "OK": "Dinas Kesehatan",
}


def test_formula_like_cells_are_text_in_csv_and_xlsx(session: Session) -> None:
    for kode, nama in NASTY.items():
        ensure_opd(session, kode, nama)
    report = participation(session, WINDOW)

    rows = {r["kode"]: r["nama"] for r in csv.DictReader(io.StringIO(to_csv(report)))}
    for kode, nama in NASTY.items():
        expected = nama if kode == "OK" else "'" + nama
        assert rows[kode] == expected
    assert rows["TOTAL"] == "Kabupaten (semua OPD)"

    data = to_xlsx(report, ZoneInfo("Asia/Jakarta"))
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=4) if row[0].value}
    for kode, nama in NASTY.items():
        assert (cells[kode].value, cells[kode].data_type) == (nama, "s")
        assert cells[kode].quotePrefix is (kode != "OK")


def test_formula_like_opd_names_are_text_in_the_activity_csv(session: Session) -> None:
    """The per-week activity download (API and dashboard) carries the OPD names too."""
    for kode, nama in NASTY.items():
        ensure_opd(session, kode, nama)
    tz = ZoneInfo("Asia/Jakarta")
    result = activity(session, WINDOW, tz, threshold_days=14, now=WINDOW.end)
    rows = list(csv.DictReader(io.StringIO(activity_csv(result, tz))))
    names = {r["kode"]: r["nama"] for r in rows}
    for kode, nama in NASTY.items():
        assert names[kode] == (nama if kode == "OK" else "'" + nama)
