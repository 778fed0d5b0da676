"""The pacer alone, old against new in the same minute (issue 10): throughput, CPU per send, and
what two processes sharing one ledger put into any one second when their loop stalls.

``python -m bench.pacer_ab`` (prints a table; writes nothing): each case runs the pacer of this
tree (``new``) and the one of ``BENCH_PACER_BASE`` (a git revision, default ``94e009f``: the
pacer that moved its slots on after a late wake-up) alternately, ``BENCH_PACER_REPEAT`` times
(1). A case is a process (or two sharing one in-memory ledger) releasing sends as fast as its
pacer lets it, each send costing ``work`` ms of CPU (a loaded worker), the loop stalled
``stall`` ms every ``every`` s (a busy machine). Figures: sends/s after the first second, CPU
seconds per send of this process (``time.process_time``: survives the machine's load), the
most sends let go in any one second and how many of them a strict limit (30 in any second, or
the paid 1,000) refuses. ``BENCH_PACER_SECONDS`` (8) is how long each case runs;
``BENCH_PACER_ONLY``: only the cases whose name contains it (e.g. ``one process``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.emulators.telegram.world import Limits

ROOT = Path(__file__).resolve().parent.parent
BASE = os.environ.get("BENCH_PACER_BASE", "94e009f")
REPEAT = int(os.environ.get("BENCH_PACER_REPEAT", "1"))
SECONDS = float(os.environ.get("BENCH_PACER_SECONDS", "8"))
ONLY = os.environ.get("BENCH_PACER_ONLY", "")  # run only the cases whose name has this in it


@dataclass(frozen=True)
class Case:
    name: str
    rate: float
    processes: int = 1
    work: float = 0.0  # ms of CPU per send
    stall: float = 0.0  # ms the loop is blocked ...
    every: float = 0.0  # ... every this many seconds (0: never)


CASES = [
    Case("30/s, one process", 30),
    Case("30/s, one process, 25 ms stall every 0.3 s", 30, stall=25, every=0.3),
    Case("30/s, two processes, 150 ms stall every 0.7 s", 30, processes=2, stall=150, every=0.7),
    Case("1,000/s, one process", 1000),
    Case("1,000/s, one process, 0.3 ms/send, 30 ms stall every 0.3 s", 1000, 1, 0.3, 30, 0.3),
    Case("1,000/s, two processes, 0.3 ms/send, 60 ms stall every 0.5 s", 1000, 2, 0.3, 60, 0.5),
]


def old_module() -> types.ModuleType:
    """``bot/ratelimit.py`` as it was at ``BASE``, loaded beside this tree's."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASE}:bot/ratelimit.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("bench_old_ratelimit", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    exec(compile(source, f"{BASE}:bot/ratelimit.py", "exec"), module.__dict__)
    return module


def most_within(stamps: list[float], window: float) -> int:
    """The most of ``stamps`` (sorted) in any window of ``window`` s, both ends included."""
    most, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] < t - window - 1e-9:
            j += 1
        most = max(most, i - j + 1)
    return most


def refused_by_a_strict_limit(stamps: list[float], limit: float) -> int:
    """How many of ``stamps`` (sorted) a sliding window of ``limit`` in any second refuses:
    the emulator's strictest shape."""
    limiter = Limits(rate=limit, shape="sliding").limiter(limit, limit)
    refused = 0
    for moment in stamps:
        if limiter.ready(moment):
            limiter.take(moment)
        else:
            refused += 1
    return refused


def busy(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


async def run_case(module: Any, case: Case) -> dict[str, float]:
    ledger = module.LocalLedger()
    pacers = [
        module.Pacer(case.rate, ledger=ledger, per_chat_interval=0) for _ in range(case.processes)
    ]
    stamps: list[float] = []
    end = time.monotonic() + SECONDS

    async def sender(pacer: Any, n: int) -> None:
        chat = 0
        while time.monotonic() < end:
            # A window of sends waiting, as a worker's claim keeps: the pacer's queue is never
            # empty, and never a whole broadcast long.
            await pacer.acquire(f"{n}:{chat}")
            stamps.append(time.monotonic())
            chat += 1
            busy(case.work)

    async def staller() -> None:
        while case.every and time.monotonic() < end:
            await asyncio.sleep(case.every)
            time.sleep(case.stall / 1000)  # noqa: ASYNC251 - a blocked loop, on purpose

    cpu = time.process_time()
    began = time.monotonic()
    senders = [sender(p, i) for i, p in enumerate(pacers) for _ in range(64)]
    await asyncio.gather(staller(), *senders)
    cpu = time.process_time() - cpu
    for pacer in pacers:
        await pacer.aclose()
    stamps.sort()
    steady = [t for t in stamps if t >= began + 1.0]
    limit = 30.0 if case.rate <= 30 else case.rate
    most, refused = most_within(stamps, 1.0), refused_by_a_strict_limit(stamps, limit)
    return {
        "rate": len(steady) / max(1e-9, (stamps[-1] - began - 1.0)) if steady else 0.0,
        "cpu_ms": 1000 * cpu / max(1, len(stamps)),
        "most": most,
        "refused": refused,
        "missed": sum(getattr(p, "missed", 0) for p in pacers),
    }


def main() -> None:
    from bot import ratelimit as new

    old = old_module()
    load = "/".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"pacer A/B: old = {BASE}, new = this tree; {SECONDS:.0f} s a case; load {load}")
    print("| case | pacer | sends/s after 1 s | CPU ms/send | most in 1 s | refused | let go |")
    print("|---|---|---|---|---|---|---|")
    for case in (c for c in CASES if ONLY in c.name):
        for _ in range(REPEAT):
            for label, module in (("old", old), ("new", new)):
                r = asyncio.run(run_case(module, case))
                print(
                    f"| {case.name} | {label} | {r['rate']:.1f} | {r['cpu_ms']:.3f} | "
                    f"{r['most']:.0f} | {r['refused']:.0f} | {r['missed']:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
