"""What the demo prints at the end: the participation table and where to click next."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(value: float) -> str:
    return f"{value:.1%}".replace(".", ",")


def show_result(console: Console, result: dict[str, Any]) -> None:
    report = result["participation"]
    table = Table(
        title="Partisipasi ASN per OPD (dari basis data Gaung)",
        caption="Like/share dilaporkan sendiri oleh ASN; terkirim diukur dari saluran.",
    )
    labels = ("OPD", "Roster", "Terdaftar", "%Daftar", "Terkirim", "Like", "Share", "Ikut", "%Ikut")
    for label in labels:
        table.add_column(label, justify="left" if label == "OPD" else "right")
    rows = sorted(
        report["opd"],
        key=lambda r: (-r["participation_rate"], -r["registration_rate"], r["kode"]),
    )
    for row in [*rows, None]:
        counts = report["total"] if row is None else row
        table.add_row(
            "TOTAL" if row is None else row["kode"],
            str(counts["asn_roster"]),
            str(counts["asn_registered"]),
            _pct(counts["registration_rate"]),
            str(counts["delivered"]),
            str(counts["liked"]),
            str(counts["shared"]),
            str(counts["participated"]),
            _pct(counts["participation_rate"]),
            end_section=row is not None and row is rows[-1],
        )
    console.print(table)
    story = result["story"]
    if result["matches"]:
        console.print(
            f"✅ Tabel ini sama persis dengan yang dilakukan {story['registered']} ASN simulasi "
            f"({story['taps']} ketukan, {story['reminders']} pengingat, {story['seconds']} s)."
        )
    else:
        console.print(
            f"❌ Tabel TIDAK sama dengan simulasi untuk OPD: {', '.join(result['mismatched'])}"
        )
    console.print()
    console.print(f"Dasbor:        {result['dashboard']}", highlight=False)
    console.print(f"Tautan masuk:  {result['sign_in'] or '-'}", highlight=False, soft_wrap=True)
    console.print(f"Kunci API:     {result['api_key']}", highlight=False)
    console.print(
        f"Coba:          curl -H 'Authorization: Bearer {result['api_key']}' "
        f"{result['url']}/api/v1/participation",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"OpenAPI:       {result['url']}/docs", highlight=False)
    console.print(f"Folder demo:   {result['folder']} (basis data, roster, log)", highlight=False)
