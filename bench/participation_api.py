"""Issue 5's figures: the participation endpoint over a seeded year.

- p95 of ``GET /api/v1/participation`` for the whole year and for one month, against a
  ``gaung serve`` process on loopback, next to the plain GROUP BY join over deliveries and
  confirmations run in the same process on the same data (the ratio is the figure that
  survives a noisy machine);
- 200 concurrent clients for 60 s: errors, throughput, p99.

Seeding a year takes a few minutes per engine on a quiet machine (about two CPU-minutes of
Python, ``bench/seed_year.py``; 403 s on PostgreSQL and 853 s on SQLite at load average ~10).
To iterate, keep the seeded databases:
``GAUNG_BENCH_REUSE=/some/folder python -m bench participation_api`` seeds into that folder
the first time (a SQLite file and a PostgreSQL data directory, see ``bench.databases``) and
reuses the seed on later runs, migrating it to head first; RESULTS.md then says the seed was
reused and how long it took when it was made. Delete the folder to seed afresh.
``GAUNG_BENCH_ENGINES=sqlite`` (or ``postgresql``) runs one engine only, and
``GAUNG_BENCH_CONCURRENT_SECONDS`` (0: skip), ``GAUNG_BENCH_CLIENTS``,
``GAUNG_BENCH_SEQUENTIAL`` and ``GAUNG_BENCH_PLAIN_RUNS`` shorten it while iterating.

``GAUNG_BENCH_BEFORE=<git revision>`` also serves that revision's code (extracted with
``git archive``, given this checkout's migrations so that it accepts the same database) and
measures both on the same data in alternating rounds (``GAUNG_BENCH_BEFORE_SEQUENTIAL``
requests to the before code, default 20, spread over the rounds): an old-vs-new ratio
that a busy machine does not skew. Each row also gives the CPU the server process (and, on
PostgreSQL, the database backends) spent per request, which load does not inflate much.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Select, text
from sqlmodel import Session

from bench.databases import BenchDatabase, bench_databases
from bench.http import KeepAlive
from bench.seed_year import seed_year
from bench.server import serve, stop
from bench.whatsapp_broadcast import cpu_seconds
from db.accounts.apikeys import create_api_key
from db.engine import make_engine
from db.reporting.participation import counter_sums, plain_delivery_counts
from db.reporting.window import Window

SEQUENTIAL = int(os.environ.get("GAUNG_BENCH_SEQUENTIAL", "100"))
ROUND = 10  # requests per turn when two servers alternate
PLAIN_RUNS = int(os.environ.get("GAUNG_BENCH_PLAIN_RUNS", "3"))
CONCURRENT_CLIENTS = int(os.environ.get("GAUNG_BENCH_CLIENTS", "200"))
CONCURRENT_SECONDS = float(os.environ.get("GAUNG_BENCH_CONCURRENT_SECONDS", "60"))
BEFORE = os.environ.get("GAUNG_BENCH_BEFORE")
# Requests to the before code per window: fewer (it was slow: seconds a request on SQLite).
BEFORE_SEQUENTIAL = int(os.environ.get("GAUNG_BENCH_BEFORE_SEQUENTIAL", "20"))
SECRET = "bench-dashboard-secret-key-0123456789abcdef"
TARGETS = {"postgresql": (50.0, 20.0), "sqlite": (250.0, None)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _query_ms(
    engine: Engine, statement: Select[Any], runs: int = 5
) -> tuple[float, set[tuple[int, ...]]]:
    """Median time of a query, and its rows (to check counters and facts agree)."""
    times = []
    rows: set[tuple[int, ...]] = set()
    for _ in range(runs):
        with engine.connect() as conn:
            began = time.perf_counter()
            result = conn.execute(statement).all()
            times.append((time.perf_counter() - began) * 1000)
        rows = {tuple(int(v) for v in row) for row in result}
    return statistics.median(times), rows


class _Server:
    """One ``gaung serve`` process and what it spent: latencies and CPU per request."""

    def __init__(self, label: str, total: int, process: subprocess.Popen[bytes], port: int) -> None:
        self.label, self.total, self.process = label, total, process
        self.base = f"http://127.0.0.1:{port}"
        self.latencies: list[float] = []
        self.cpu = 0.0

    def requests(self, client: httpx.Client, params: dict[str, str], n: int, backends: Any) -> None:
        """``n`` sequential requests, timed; CPU of the server (and database backends) added."""
        cpu = cpu_seconds(self.process.pid) + backends()
        for _ in range(n):
            began = time.perf_counter()
            client.get(f"{self.base}/api/v1/participation", params=params).raise_for_status()
            self.latencies.append((time.perf_counter() - began) * 1000)
        self.cpu += cpu_seconds(self.process.pid) + backends() - cpu


def _measure(
    servers: list[_Server], headers: dict[str, str], params: dict[str, str], backends: Any
) -> None:
    """Warm each server up, then alternate rounds between them (``ROUND`` requests of the
    current code, the before code's share of the same turn), so that a change of machine load
    falls on all alike."""
    for server in servers:
        server.latencies, server.cpu = [], 0.0
    with httpx.Client(headers=headers, timeout=600) as client:
        for server in servers:
            for _ in range(min(10, server.total)):
                client.get(f"{server.base}/api/v1/participation", params=params).raise_for_status()
        rounds = -(-SEQUENTIAL // ROUND)
        for turn in range(rounds):
            for server in servers:
                due = -(-server.total * (turn + 1) // rounds) - len(server.latencies)
                server.requests(client, params, due, backends)


def _backend_cpu(engine: Engine) -> Any:
    """CPU seconds so far of the PostgreSQL backends serving the bench database (the servers'
    pooled connections; this process's own excluded), or 0 on SQLite (in-process there)."""
    if engine.dialect.name != "postgresql":
        return lambda: 0.0

    def total() -> float:
        with engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            ).scalars()
            return sum(cpu_seconds(int(pid)) for pid in pids)

    return total


@contextmanager
def _before_tree(revision: str | None) -> Iterator[Path | None]:
    """The code of ``revision`` in a temporary folder, with this checkout's migrations folder
    (its schema check then accepts the same database), or None when no before is asked for."""
    if not revision:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="gaung-before-"))
    try:
        root = Path(__file__).resolve().parent.parent
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", revision], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        # The whole folder: the migration files import their helpers (``shapes``) from it.
        migrations = Path("db/migrations")
        shutil.rmtree(folder / migrations)
        shutil.copytree(root / migrations, folder / migrations)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Connection(KeepAlive):
    """A client asking for the same participation table again and again."""

    def __init__(self, host: str, port: int, target: str, headers: dict[str, str]) -> None:
        super().__init__(host, port)
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def get(self) -> int:
        return await self.send(self.request)


async def _hammer(base: str, headers: dict[str, str], params: dict[str, str]) -> dict[str, float]:
    url = httpx.URL(base).join("/api/v1/participation").copy_merge_params(params)
    target = url.raw_path.decode()
    host, port = url.host, url.port or 80
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + CONCURRENT_SECONDS

    async def one_client() -> None:
        nonlocal errors
        connection = _Connection(host, port, target, headers)
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    async with asyncio.timeout(60):
                        status = await connection.get()
                    if status != 200:
                        errors += 1
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    errors += 1
                    connection.close()  # start afresh, as a client would
                latencies.append((time.perf_counter() - began) * 1000)
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(CONCURRENT_CLIENTS)))
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput": len(latencies) / elapsed,
        "p50": _pct(latencies, 0.50),
        "p99": _pct(latencies, 0.99),
    }


def _seed(database: BenchDatabase, end: datetime) -> tuple[datetime, str]:
    """Seed (or reuse) a year; returns its end and how the table describes the seed."""
    previous = database.seeded
    if previous is not None:
        seeded_end = datetime.fromisoformat(previous["end"])
        return seeded_end, (
            f"{previous['deliveries'] / 1e6:.2f} M deliveries, "
            f"{previous['confirmations'] / 1e6:.2f} M confirmations "
            f"(reused; seeded in {previous['seconds']:.0f} s)"
        )
    engine = make_engine(database.url)
    try:
        began = time.perf_counter()
        totals = seed_year(engine, end=end)
        seconds = time.perf_counter() - began
    finally:
        engine.dispose()
    database.mark_seeded(totals | {"end": end.isoformat(), "seconds": seconds})
    return end, (
        f"{totals['deliveries'] / 1e6:.2f} M deliveries, "
        f"{totals['confirmations'] / 1e6:.2f} M confirmations in {seconds:.0f} s"
    )


def run() -> list[str]:
    reuse = os.environ.get("GAUNG_BENCH_REUSE")
    engines = tuple(
        os.environ.get("GAUNG_BENCH_ENGINES", "sqlite,postgresql").replace(" ", "").split(",")
    )
    lines = [
        "## Participation API over a seeded year (issues 5 and 11)",
        "",
        "Seeded with `bench/seed_year.py`: 8,000 ASN in 58 OPD, 3 posts a day for 365 days, "
        "every ASN receiving every post, confirmations drawn per OPD culture. Requests go to a "
        "`gaung serve` process on loopback with a Diskominfo key. `plain join` is the GROUP BY "
        f"over deliveries ⟕ confirmations for the same window, timed in the same run (median "
        f"of {PLAIN_RUNS}); `counters` is the counters part of the endpoint's query (the "
        "window's whole UTC days from the per OPD × day rollup `opd_day_stat`, its partial "
        "first and last days from the per post × OPD counters; median of 5). The run stops if "
        "the two ever disagree. API latencies "
        f"are over {SEQUENTIAL} sequential requests after 10 of warm-up ({BEFORE_SEQUENTIAL} "
        "for the before code); `server CPU` is what "
        "the `gaung serve` process (and on PostgreSQL the database backends) spent per "
        "request. A `before` row is the same requests to the code of an earlier commit, "
        "served in alternating rounds of ten with the current code on the same data.",
        "",
        "| engine | seeded | window | code | API p50 | API p95 | target p95 | server CPU | "
        "counters query | plain join | plain ÷ counters |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    if reuse:
        lines[2:2] = [
            "Seeded databases were kept on disk between runs (`GAUNG_BENCH_REUSE`) and "
            "migrated to head before measuring; the seed's own time is from when it was made.",
            "",
        ]
    concurrency: list[str] = []
    measured_load: list[str] = []
    now = datetime.now(UTC).replace(microsecond=0)
    folder = Path(tempfile.mkdtemp(prefix="gaung-bench-api-"))
    with (
        bench_databases(Path(reuse) if reuse else None, engines) as databases,
        _before_tree(BEFORE) as before,
    ):
        for name, database in databases.items():
            seeded_end, seeded = _seed(database, now)
            measured_load.append(f"{name} {os.getloadavg()[0]:.1f}")
            # Windows end a second after the last seeded approval, as if asked right then.
            end = seeded_end + timedelta(seconds=1)
            url = database.url
            # No statement timeout here: the plain join over a year is the slow reference the
            # counters are compared with, and the product's 30 s limit cancelled it under load.
            engine = make_engine(url, statement_timeout=0)
            with Session(engine) as session:
                _, key = create_api_key(session, role="diskominfo", name="bench")
                session.commit()
            headers = {"Authorization": f"Bearer {key}"}
            settings = {"GAUNG_DATABASE_URL": url, "GAUNG_SECRET_KEY": SECRET}
            servers = [_Server("now", SEQUENTIAL, *serve(settings, folder))]
            try:
                if before is not None:
                    label = f"before (`{BEFORE}`)"
                    process = serve(settings, folder, source=before)
                    servers.append(_Server(label, BEFORE_SEQUENTIAL, *process))
                year_target, month_target = TARGETS[name]
                windows = {
                    "year": (end - timedelta(days=366), end, year_target),
                    "month": (end - timedelta(days=30), end, month_target),
                }
                for label, (start, until, target) in windows.items():
                    params = {"start": start.isoformat(), "end": until.isoformat()}
                    _measure(servers, headers, params, _backend_cpu(engine))
                    window = Window(start, until)
                    counters, counted = _query_ms(engine, counter_sums(window, None))
                    plain, facts = _query_ms(engine, plain_delivery_counts(window), PLAIN_RUNS)
                    if counted != facts:
                        raise AssertionError(f"{name} {label}: counters differ from the facts")
                    for server in servers:
                        ms = server.latencies
                        met = (
                            "—"
                            if target is None or server.label != "now"
                            else f"{target:.0f} ms "
                            f"({'met' if _pct(ms, 0.95) <= target else 'NOT met'})"
                        )
                        first = server is servers[0]
                        lines.append(
                            f"| {name} | {seeded if label == 'year' and first else ''} | "
                            f"{label} | {server.label} | {_pct(ms, 0.5):.1f} ms | "
                            f"{_pct(ms, 0.95):.1f} ms | {met} | "
                            f"{server.cpu / len(ms) * 1000:.1f} ms | "
                            + (
                                f"{counters:.1f} ms | {plain:.0f} ms | {plain / counters:.0f}× |"
                                if first
                                else "| | |"
                            )
                        )
                        print(lines[-1], flush=True)
                if CONCURRENT_SECONDS > 0:
                    params = {
                        "start": (end - timedelta(days=366)).isoformat(),
                        "end": end.isoformat(),
                    }
                    result = asyncio.run(_hammer(servers[0].base, headers, params))
                    concurrency.append(
                        f"| {name} | {CONCURRENT_CLIENTS} | {CONCURRENT_SECONDS:.0f} s | "
                        f"{result['requests']:.0f} | {result['errors']:.0f} | "
                        f"{result['throughput']:.0f}/s | {result['p50']:.0f} ms | "
                        f"{result['p99']:.0f} ms |"
                    )
                    print(concurrency[-1], flush=True)
            finally:
                for server in servers:
                    stop(server.process)  # kills one still draining the load test's backlog
                engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    loads = ", ".join(measured_load)
    lines += [
        "",
        "Concurrency: each client holds its own keep-alive connection and loops on the "
        "whole-year request (next request as soon as the last answer is read) against one "
        "`gaung serve` process (one uvicorn worker) on the same 2-core machine as the clients. "
        "The server admits as many requests to the database at once as its pool keeps "
        "connections (10 on PostgreSQL, 5 on SQLite); the others wait their turn on the event "
        "loop, so latency is the queue: about clients ÷ throughput.",
        "",
        f"Machine load (1-minute load average) before each engine's measurements: {loads}. "
        "The machine is shared with other work, which shows up in the tails.",
        "",
        "| engine | clients | duration | requests | errors | throughput | p50 | p99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *concurrency,
    ]
    return lines
