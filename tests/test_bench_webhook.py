"""The webhook benchmark's before/after: each side the mean of its runs; after ÷ before."""

from __future__ import annotations

from bench.webhook import Measured, Phase, comparison


def _run(
    code: str, kind: str, requests: int, p99: float, load: float, cpu: float = 1.0
) -> Measured:
    """A phase of ``requests`` in 10 s, every one taking ``p99`` ms; the server spent ``cpu``
    seconds of CPU on it."""
    phase = Phase(f"{kind} loop", seconds=10.0, latencies=[p99] * requests, server_cpu=cpu)
    return Measured(code, phase, load)


def test_comparison_takes_the_mean_of_each_side_and_divides() -> None:
    runs = [  # ABBA: before, after, after, before
        _run("old", "open", 1000, 400.0, 4.0, cpu=1.0),
        _run("new", "open", 2000, 100.0, 5.0, cpu=1.0),
        _run("new", "open", 3000, 50.0, 3.0, cpu=1.5),
        _run("old", "open", 3000, 200.0, 2.0, cpu=3.0),
    ]
    (row,) = comparison("sqlite", runs, "old", "new")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "sqlite" and cells[1] == "open loop"
    assert cells[2] == "200/s → 250/s (1.25 ×)"  # (100 + 300) / 2 → (200 + 300) / 2
    assert cells[3] == "300.0 ms → 75.0 ms (0.25 ×)"
    assert cells[4] == "1.00 ms → 0.50 ms (0.50 ×)"  # per request: (1 + 1) / 2 → (0.5 + 0.5) / 2
    assert cells[5] == "3.0 / 4.0"


def test_a_side_without_runs_gives_no_row() -> None:
    assert comparison("sqlite", [_run("new", "open", 100, 1.0, 1.0)], "old", "new") == []
