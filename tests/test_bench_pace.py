"""bench/pace.py run in part (``BENCH_PACE_*``) replaces only the rows it ran: the others stay
as they were, each naming the commit and time it measured, and notes under ``###`` headings
survive every run."""

from __future__ import annotations

from bench.pace import (
    COLUMNS,
    SERVE_COLUMNS,
    Figures,
    Split,
    kept_rows,
    report,
    row_key,
    row_line,
    split_line,
)

SLIDING = "| sliding | growing | `gaung worker` | 8,000 | 280.3 s | 28.73/s (0.958 ×) | 0 (0.00 %) | 8000 | 0 | 0 | met | `c7f9431` quiet, 2026-12-01 22:13 |"  # noqa: E501
PAID = "| sliding | growing | `gaung worker` (paid, 1,000/s) | 8,000 | 11.1 s | — | 0 (0.00 %) | 8000 | 0 | 0 | **NOT met** (time) | `c7f9431`, 2026-12-01 22:18 |"  # noqa: E501
PEER = "| bucket | none | python-telegram-bot 22, `AIORateLimiter()` (defaults) | 2,000 | 80.0 s | 25.00/s (0.833 ×) | 3 (0.15 %) | 2003 | 0 | 0 | **NOT met** (rate) | `abc`, 2026-12-01 20:00 |"  # noqa: E501
SERVE = "| sliding | 60.4 s | 50 | 30 | 0 | 512 / 1,201 | 21800 / 45100 ms | 0 / 52 | 3.70/s | 3.09/s | 0.137 × | 0.144 × | 26 (3.78 %) | 0 | 0 | 4.0 ms | **NOT met** (replies) | `6711b48`, 2026-12-01 17:00 |"  # noqa: E501
OLD_SECTION = f"""## One bot, one pace: every limiter shape (issue 10)

Prose written by the last run.

{COLUMNS}
| --- | --- |
{PEER}
{SLIDING}
{PAID}

Prose about the peers.

{SERVE_COLUMNS}
| --- | --- |
{SERVE}

### Session "pace": what changed

A note kept by hand, with its own _Measured 2026-12-01 13:11 UTC_ line.

_Measured 2026-12-01 22:20 UTC on a machine; took 300 s; commit `c7f9431`, clean tree._
_Load average (1/5/15 min) before: 1/1/1, after: 2/2/2; the machine is shared._
_Databases: PostgreSQL; SQLite._"""


def test_a_partial_run_replaces_its_rows_and_keeps_the_others_with_their_commits() -> None:
    rerun = Figures("`gaung worker`", "sliding", "growing", 281.0, 28.8, 8000, 0, 0, 0)
    rerun.measured = "`fedcba987654`, 2026-12-02 00:01"
    fixed = Figures("`gaung worker`", "fixed", "growing", 279.0, 28.9, 8000, 0, 0, 0)
    fixed.measured = "`fedcba987654`, 2026-12-02 00:06"
    ran = {row_key(line): line for line in (row_line(rerun), row_line(fixed))}

    section = report(ran, {}, OLD_SECTION)

    table = section[section.index(COLUMNS) + 2 : section.index(COLUMNS) + 6]
    # Our worker by shape, the paid run, then the peers; the sliding row is the new one.
    assert table == [row_line(rerun), row_line(fixed), PAID, PEER]
    assert table[0].endswith("| met | `fedcba987654`, 2026-12-02 00:01 |")
    assert SLIDING not in section
    assert SERVE in section  # the run beside `gaung serve` was not re-run: kept
    history = section[section.index('### Session "pace": what changed') :]
    assert history[-1] == "A note kept by hand, with its own _Measured 2026-12-01 13:11 UTC_ line."
    assert not any(line.startswith("_Load average") for line in section)  # the old footer

    # Written again with nothing re-run, the section keeps every row and note as they are.
    again = "\n".join(section)
    assert kept_rows(again, COLUMNS) == kept_rows("\n".join(section), COLUMNS)
    assert report({}, {}, again) == section


def test_a_first_run_writes_its_rows_and_keeps_the_hand_written_history() -> None:
    legacy = "## One bot\n\nOld prose.\n\n### Tuned code\n\n| shape | sender |\n| sliding | x |"
    paid = Figures(
        "`gaung worker` (paid, 1,000/s)", "sliding", "growing", 9.5, 980.0, 8000, 0, 0, 0
    )
    paid.measured = "`fedcba987654`, 2026-12-02 00:01"
    section = report({row_key(row_line(paid, paid=True)): row_line(paid, paid=True)}, {}, legacy)
    assert section[section.index(COLUMNS) + 2].endswith(
        "| met | `fedcba987654`, 2026-12-02 00:01 |"
    )
    assert "Old prose." not in section
    assert section[-4:] == ["### Tuned code", "", "| shape | sender |", "| sliding | x |"]


def test_the_paid_runs_split_is_written_and_kept_by_sender() -> None:
    part = Split("`gaung worker` (paid, 1,000/s)", 0.31, 8.4, 8000, 0.05, 2.4, 1.6)
    part.measured = "`fedcba987654`, 2026-12-02 02:30"
    section = report({}, {}, OLD_SECTION, {row_key(split_line(part)): split_line(part)})
    assert split_line(part) in section
    assert split_line(part).startswith(
        "| `gaung worker` (paid, 1,000/s) | 0.31 s | 8.40 s | 952/s | 0.05 s | 0.30 ms | 0.20 ms |"
    )
    assert report({}, {}, "\n".join(section)) == section  # kept when not re-run
