"""``python -m bench [--dirty] [NAME …]``: run the benchmarks and write bench/RESULTS.md.

Each benchmark module has ``run() -> list[str]`` returning its Markdown section. Results of
benchmarks not run this time are kept from the file as it is when each result is written (read
again then, so that two runs of different benchmarks at once keep each other's sections).

A figure is only worth something if one can tell which code it measured: every section ends
with the commit it ran on and whether the working tree was clean, and a dirty tree (changes
not committed, other than RESULTS.md itself) is refused unless ``--dirty`` or
``GAUNG_BENCH_ALLOW_DIRTY=1`` says a draft figure is wanted; such a section says so.
Under each section also stands what the databases really ran with (PostgreSQL's durability
settings as the server reported them, SQLite's journal and sync modes).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import databases
from bench.machine import describe

BENCHMARKS = [
    "roster_import",
    "participation_api",
    "webhook",
    "broadcast",
    "pace",
    "whatsapp_status",
    "whatsapp_broadcast",
    "faults",
    "whatsapp_both",
]
RESULTS = Path(__file__).with_name("RESULTS.md")
ROOT = Path(__file__).resolve().parent.parent
RESULTS_IN_TREE = "bench/RESULTS.md"
MARK = re.compile(r"<!-- bench:(\w+) -->")
SQLITE_NOTE = (
    "SQLite in WAL mode with `synchronous=NORMAL` (`db/engine.py`): a commit survives a crash "
    "of the process; the last commits before a power cut may be lost"
)


class DirtyTree(Exception):
    """The working tree has changes not committed: a figure would name no code."""


@dataclass(frozen=True)
class Revision:
    commit: str  # full hash, or "unknown" outside a git checkout
    changes: tuple[str, ...]  # `git status --porcelain` lines, RESULTS.md left out

    @property
    def clean(self) -> bool:
        return self.commit != "unknown" and not self.changes

    def describe(self) -> str:
        if self.commit == "unknown":
            return "commit unknown (not a git checkout)"
        state = "clean tree" if self.clean else f"DIRTY tree ({len(self.changes)} changed files)"
        return f"commit `{self.commit[:12]}`, {state}"


def revision(root: Path = ROOT) -> Revision:
    """The commit checked out in ``root`` and its uncommitted changes (RESULTS.md aside)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=all")
    except (OSError, subprocess.CalledProcessError):
        return Revision("unknown", ())
    changes = tuple(
        line for line in status.splitlines() if line and line[3:].strip('"') != RESULTS_IN_TREE
    )
    return Revision(commit, changes)


def check_tree(allow_dirty: bool, root: Path = ROOT) -> Revision:
    """The revision to measure; raises ``DirtyTree`` for uncommitted changes unless allowed."""
    found = revision(root)
    if not found.clean and not allow_dirty:
        listed = ", ".join(line[3:] for line in found.changes[:5])
        more = " …" if len(found.changes) > 5 else ""
        raise DirtyTree(
            f"uncommitted changes ({listed}{more}): commit them, or pass --dirty "
            "(GAUNG_BENCH_ALLOW_DIRTY=1) for a figure marked as measured on a dirty tree"
        )
    return found


def load() -> str:
    try:
        return "/".join(f"{n:.1f}" for n in os.getloadavg())
    except OSError:
        return "?"


def footer(began: float, measured: Revision, load_before: str) -> list[str]:
    """What a section was measured on: machine (and how busy it was), code, databases."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    now = revision()
    code = measured.describe()
    if now.commit != measured.commit or now.changes != measured.changes:
        code += f"; the tree changed during the run (now {now.describe()})"
    servers = sorted(databases.servers_seen)
    postgres = (
        "PostgreSQL as the server reported it: " + "; ".join(servers)
        if servers
        else "no PostgreSQL server started"
    )
    return [
        "",
        f"_Measured {stamp} on {describe()}; took {time.time() - began:.0f} s; {code}._",
        f"_Load average (1/5/15 min) before: {load_before}, after: {load()}; the machine is "
        "shared with other work, which shows up in latencies and throughput._",
        f"_Databases: {postgres}; {SQLITE_NOTE}._",
    ]


def _previous() -> dict[str, str]:
    if not RESULTS.exists():
        return {}
    text = RESULTS.read_text(encoding="utf-8")
    parts = MARK.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def main(argv: list[str]) -> None:
    allow_dirty = "--dirty" in argv or os.environ.get("GAUNG_BENCH_ALLOW_DIRTY") == "1"
    names = [a for a in argv if a != "--dirty"]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"bench: unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    try:
        measured = check_tree(allow_dirty)
    except DirtyTree as exc:
        sys.exit(f"bench: refusing to write bench/RESULTS.md: {exc}")
    for name in names or BENCHMARKS:
        print(f"== {name} ({measured.describe()})", flush=True)
        began, load_before = time.time(), load()
        databases.servers_seen.clear()
        module = importlib.import_module(f"bench.{name}")
        lines = module.run()
        lines += footer(began, measured, load_before)
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
