"""``python -m bench [NAME …]``: run the benchmarks and write bench/RESULTS.md.

Each benchmark module has ``run() -> list[str]`` returning its Markdown section. Results of
benchmarks not run this time are kept from the previous file.
"""

from __future__ import annotations

import importlib
import re
import sys
import time
from pathlib import Path

from bench.machine import describe

BENCHMARKS = ["roster_import", "participation_api", "webhook", "broadcast"]
RESULTS = Path(__file__).with_name("RESULTS.md")
MARK = re.compile(r"<!-- bench:(\w+) -->")


def _previous() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text(encoding="utf-8")
    parts = MARK.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def main(names: list[str]) -> None:
    chosen = names or BENCHMARKS
    sections = _previous()
    for name in chosen:
        print(f"== {name}", flush=True)
        began = time.time()
        module = importlib.import_module(f"bench.{name}")
        lines = module.run()
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        lines += ["", f"_Measured {stamp} on {describe()}; took {time.time() - began:.0f} s._"]
        sections[name] = "\n".join(lines)
        print("\n".join(lines), flush=True)
    body = ["# Benchmark results", "", "Written by `make bench` (`python -m bench`).", ""]
    for name in [*BENCHMARKS, *(n for n in sections if n not in BENCHMARKS)]:
        if name in sections:
            body += [f"<!-- bench:{name} -->", sections[name], ""]
    RESULTS.write_text("\n".join(body), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
