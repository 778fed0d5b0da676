"""``python -m bench [NAME …]``: run the benchmarks and write bench/RESULTS.md.

Each benchmark module has ``run() -> list[str]`` returning its Markdown section. Results of
benchmarks not run this time are kept from the file as it is when each result is written (read
again then, so that two runs of different benchmarks at once keep each other's sections).
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from pathlib import Path

from bench.machine import describe

BENCHMARKS = [
    "roster_import",
    "participation_api",
    "webhook",
    "broadcast",
    "whatsapp_status",
    "whatsapp_broadcast",
]
RESULTS = Path(__file__).with_name("RESULTS.md")
MARK = re.compile(r"<!-- bench:(\w+) -->")


def _previous() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text(encoding="utf-8")
    parts = MARK.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        began = time.time()
        module = importlib.import_module(f"bench.{name}")
        lines = module.run()
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        lines += ["", f"_Measured {stamp} on {describe()}; took {time.time() - began:.0f} s._"]
        print("\n".join(lines), flush=True)
        _write(name, "\n".join(lines))


def _write(name: str, section: str) -> None:
    sections = _previous() | {name: section}
    body = ["# Benchmark results", "", "Written by `make bench` (`python -m bench`).", ""]
    for key in [*BENCHMARKS, *(n for n in sections if n not in BENCHMARKS)]:
        if key in sections:
            body += [f"<!-- bench:{key} -->", sections[key], ""]
    RESULTS.write_text("\n".join(body), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
