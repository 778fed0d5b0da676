"""``gaung demo``: the system on its embedded defaults, with a simulated regency.

For now it shows what exists: the database, the 58 OPD, a generated roster of 8,000 ASN
imported the way an operator imports the real one, and the registration report. Chat
registration and broadcasts join the demo as the bot and the delivery engine land.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from db.engine import make_engine, session_scope
from db.migrate import upgrade
from db.reporting.participation import participation
from db.reporting.window import resolve_window
from db.roster.importer import import_roster_file
from db.roster.opd import ensure_opd
from db.roster.synthetic import generate_roster, load_opd_list, write_roster_xlsx
from db.settings import Settings


def run_demo(settings: Settings, *, size: int, console: Console) -> None:
    engine = make_engine(settings.database_url)
    try:
        console.rule("[bold]Gaung — demo")
        console.print(f"Basis data: {engine.url.render_as_string(hide_password=True)}")
        upgrade(engine)
        opds = load_opd_list()
        with session_scope(engine) as session:
            for opd in opds:
                ensure_opd(session, opd.kode, opd.nama, opd.jenis)
        console.print(f"OPD Kabupaten Mojokerto: {len(opds)}")

        with tempfile.TemporaryDirectory() as folder:
            roster = Path(folder) / "roster-simulasi.xlsx"
            with console.status(f"Membuat roster simulasi {size} ASN…"):
                write_roster_xlsx(generate_roster(size), roster)
            began = time.perf_counter()
            with (
                console.status("Mengimpor roster (seperti `gaung roster import`)…"),
                session_scope(engine) as session,
            ):
                report = import_roster_file(session, roster, actor="demo")
            elapsed = time.perf_counter() - began
        console.print(
            f"Roster diimpor dalam {elapsed:.1f} s: ditambah {report.added}, diperbarui "
            f"{report.updated}, tetap {report.unchanged}, ditolak {len(report.rejected)}"
        )

        window = resolve_window(None, None, settings.tz)
        with session_scope(engine, readonly=True) as session:
            result = participation(session, window)
        table = Table(title="Laporan pendaftaran per OPD (10 OPD terbesar)")
        for label in ("OPD", "Nama", "Roster", "Terdaftar", "%"):
            table.add_column(
                label, justify="right" if label in ("Roster", "Terdaftar", "%") else "left"
            )
        biggest = sorted(result.rows, key=lambda r: -r.counts.asn_roster)[:10]
        for row in biggest:
            c = row.counts
            table.add_row(
                row.kode,
                row.nama,
                str(c.asn_roster),
                str(c.asn_registered),
                f"{c.registration_rate:.1%}",
            )
        total = result.total
        table.add_row(
            "TOTAL",
            f"{len(result.rows)} OPD",
            str(total.asn_roster),
            str(total.asn_registered),
            f"{total.registration_rate:.1%}",
        )
        console.print(table)
        console.print(
            "Belum ada ASN yang terdaftar lewat chat: pendaftaran Telegram dan siaran "
            "ditambahkan oleh bot dan mesin pengiriman. Laporan lengkap: `gaung report`."
        )
    finally:
        engine.dispose()
