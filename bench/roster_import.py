"""Importing an 8,000-row XLSX roster: target under 5 s on both engines."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.databases import engine_table
from db.engine import make_engine, session_scope
from db.roster.importer import import_roster_file
from db.roster.synthetic import generate_roster, write_roster_xlsx

TARGET_SECONDS = 5.0
ROWS = 8000


def run() -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="gaung-roster-"))
    path = folder / "roster.xlsx"
    write_roster_xlsx(generate_roster(ROWS), path)
    intro = [
        "## Roster import (issue 2)",
        "",
        f"An {ROWS:,}-row XLSX roster (58 OPD) imported into an empty database with "
        "`import_roster_file` (what `gaung roster import` runs), then imported again (all rows "
        f"unchanged). Target: first import under {TARGET_SECONDS:.0f} s.",
    ]

    def rows(name: str, url: str) -> list[str]:
        engine = make_engine(url)
        began = time.perf_counter()
        with session_scope(engine) as session:
            first = import_roster_file(session, path)
        first_s = time.perf_counter() - began
        began = time.perf_counter()
        with session_scope(engine) as session:
            second = import_roster_file(session, path)
        second_s = time.perf_counter() - began
        engine.dispose()
        return [
            f"| {name} | {first_s:.2f} s | {second_s:.2f} s | {first.added} | "
            f"{second.unchanged} | {len(first.rejected)} | "
            f"{'yes' if first_s < TARGET_SECONDS else 'NO'} |"
        ]

    columns = "engine | first import | re-import | added | unchanged | rejected | target met"
    return engine_table(intro, columns, rows)
