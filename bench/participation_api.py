"""Issue 5's figures: the participation endpoint over a seeded year.

- p95 of ``GET /api/v1/participation`` for the whole year and for one month, against a
  ``gaung serve`` process on loopback, next to the plain GROUP BY join over deliveries and
  confirmations run in the same process on the same data (the ratio is the figure that
  survives a noisy machine);
- 200 concurrent clients for 60 s: errors, throughput, p99.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import Session

from bench.databases import fresh_databases
from bench.seed_year import seed_year
from db.apikeys import create_api_key
from db.engine import make_engine
from db.participation import _delivery_counts, plain_delivery_counts
from db.window import Window
from tests.pg import free_port

SEQUENTIAL = 100
CONCURRENT_CLIENTS = 200
CONCURRENT_SECONDS = float(os.environ.get("GAUNG_BENCH_CONCURRENT_SECONDS", "60"))
TARGETS = {"postgresql": (50.0, 20.0), "sqlite": (250.0, None)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _query_ms(engine: object, statement: object, runs: int = 5) -> float:
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    times = []
    for _ in range(runs):
        with engine.connect() as conn:
            began = time.perf_counter()
            conn.execute(statement).all()  # type: ignore[call-overload]
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    gaung = Path(sys.executable).parent / "gaung"
    env = os.environ | {"GAUNG_DATABASE_URL": url}
    process = subprocess.Popen(
        [str(gaung), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("gaung serve did not start")


def _latencies(base: str, headers: dict[str, str], params: dict[str, str]) -> list[float]:
    out = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(10):
            client.get("/api/v1/participation", params=params).raise_for_status()
        for _ in range(SEQUENTIAL):
            began = time.perf_counter()
            client.get("/api/v1/participation", params=params).raise_for_status()
            out.append((time.perf_counter() - began) * 1000)
    return out


async def _hammer(base: str, headers: dict[str, str], params: dict[str, str]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + CONCURRENT_SECONDS
    limits = httpx.Limits(
        max_connections=CONCURRENT_CLIENTS, max_keepalive_connections=CONCURRENT_CLIENTS
    )
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    response = await client.get("/api/v1/participation", params=params)
                    if response.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - began) * 1000)

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


def run() -> list[str]:
    lines = [
        "## Participation API over a seeded year (issue 5)",
        "",
        "Seeded with `bench/seed_year.py`: 8,000 ASN in 58 OPD, 3 posts a day for 365 days, "
        "every ASN receiving every post, confirmations drawn per OPD culture. Requests go to a "
        "`gaung serve` process on loopback with a Diskominfo key. `plain join` is the GROUP BY "
        "over deliveries ⟕ confirmations for the same window, timed in the same run (median "
        "of 5); `counters` is the query the endpoint runs (per post × OPD counters).",
        "",
        "| engine | seeded | window | API p50 | API p95 | target p95 | counters query | "
        "plain join | plain ÷ counters |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    concurrency: list[str] = []
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    with fresh_databases() as urls:
        for name, url in urls.items():
            engine = make_engine(url)
            began = time.perf_counter()
            totals = seed_year(engine, end=end - timedelta(seconds=1))
            seeded = (
                f"{totals['deliveries'] / 1e6:.2f} M deliveries, "
                f"{totals['confirmations'] / 1e6:.2f} M confirmations "
                f"in {time.perf_counter() - began:.0f} s"
            )
            with Session(engine) as session:
                _, key = create_api_key(session, role="diskominfo", name="bench")
                session.commit()
            headers = {"Authorization": f"Bearer {key}"}
            port = free_port()
            server = _serve(url, port)
            base = f"http://127.0.0.1:{port}"
            try:
                year_target, month_target = TARGETS[name]
                windows = {
                    "year": (end - timedelta(days=366), end, year_target),
                    "month": (end - timedelta(days=30), end, month_target),
                }
                for label, (start, stop, target) in windows.items():
                    params = {"start": start.isoformat(), "end": stop.isoformat()}
                    ms = _latencies(base, headers, params)
                    window = Window(start, stop)
                    counters = _query_ms(engine, _delivery_counts(window, None))
                    plain = _query_ms(engine, plain_delivery_counts(window), runs=3)
                    met = (
                        "—"
                        if target is None
                        else f"{target:.0f} ms ({'met' if _pct(ms, 0.95) <= target else 'NOT met'})"
                    )
                    lines.append(
                        f"| {name} | {seeded if label == 'year' else ''} | {label} | "
                        f"{_pct(ms, 0.5):.1f} ms | {_pct(ms, 0.95):.1f} ms | {met} | "
                        f"{counters:.1f} ms | {plain:.0f} ms | {plain / counters:.0f}× |"
                    )
                params = {"start": (end - timedelta(days=366)).isoformat(), "end": end.isoformat()}
                print(lines[-2], lines[-1], sep="\n", flush=True)
                result = asyncio.run(_hammer(base, headers, params))
                concurrency.append(
                    f"| {name} | {CONCURRENT_CLIENTS} | {CONCURRENT_SECONDS:.0f} s | "
                    f"{result['requests']:.0f} | {result['errors']:.0f} | "
                    f"{result['throughput']:.0f}/s | {result['p50']:.0f} ms | "
                    f"{result['p99']:.0f} ms |"
                )
                print(concurrency[-1], flush=True)
            finally:
                server.terminate()
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()  # still draining the load test's backlog
                    server.wait()
                engine.dispose()
    lines += [
        "",
        "Concurrency: clients loop on the whole-year request against one `gaung serve` "
        "process (one uvicorn worker) on the same 2-core machine as the clients.",
        "",
        "| engine | clients | duration | requests | errors | throughput | p50 | p99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *concurrency,
    ]
    return lines
