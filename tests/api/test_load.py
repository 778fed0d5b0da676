"""Many concurrent requests: more than the worker threads and the connection pool together.

Before requests waited for a database slot on the event loop, 120 of them deadlocked the app
(every thread waiting for a connection, every connection held by a request waiting for a
thread to serialise its response) until the pool's 30 s or SQLite's 60 s timeout.
"""

from __future__ import annotations

import asyncio
import time

import anyio
import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from api.app import create_app
from api.deps import SPARE_THREADS, request_slots
from db.engine import session_scope
from db.models import ApiKey
from db.roster.opd import ensure_opd
from db.settings import Settings
from tests.api.conftest import make_key

REQUESTS = 120  # > 40 worker threads + 30 pooled connections


def test_concurrent_requests_beyond_threads_and_pool_all_succeed(
    database_url: str, engine: Engine
) -> None:
    headers = make_key(engine, "diskominfo")
    with Session(engine) as session:
        ensure_opd(session, "DINKES", "Dinas Kesehatan")
        session.commit()
    post = {"url": "https://instagram.com/p/beban", "opd": "DINKES"}
    app = create_app(Settings(database_url=database_url))

    async def main() -> list[int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gaung", headers=headers
            ) as client:
                with anyio.fail_after(30):
                    responses = await asyncio.gather(
                        *(client.get("/api/v1/participation") for _ in range(REQUESTS)),
                        client.post("/api/v1/posts", json=post),  # a writer among the readers
                    )
        return [r.status_code for r in responses]

    statuses = asyncio.run(main())
    assert statuses[:-1] == [200] * REQUESTS
    assert statuses[-1] == 201  # the writer was not starved either
    with Session(engine) as session:
        assert session.exec(select(ApiKey)).one().last_used_at is not None


def test_request_slots_stay_within_pool_and_threads(engine: Engine) -> None:
    async def slots() -> tuple[int, int]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        return request_slots(engine), int(limiter.total_tokens)

    n, threads = anyio.run(slots)
    assert 1 <= n <= engine.pool.size()  # type: ignore[attr-defined]
    assert n <= threads - SPARE_THREADS


def test_reads_do_not_wait_for_an_open_write_transaction(
    client: TestClient, engine: Engine
) -> None:
    headers = make_key(engine, "diskominfo")
    assert client.get("/api/v1/participation", headers=headers).status_code == 200  # last use
    with session_scope(engine) as writer:
        ensure_opd(writer, "DISDIK", "Dinas Pendidikan")
        writer.flush()  # on SQLite this transaction now holds the write lock
        began = time.perf_counter()
        response = client.get("/api/v1/participation", headers=headers)
        assert response.status_code == 200
        assert time.perf_counter() - began < 5  # not SQLite's 60 s busy timeout
        assert "DISDIK" not in {row["kode"] for row in response.json()["opd"]}


def test_a_request_holds_one_connection_at_a_time(client: TestClient, engine: Engine) -> None:
    """Also the first request of a minute, which records the key's last use."""
    headers = make_key(engine, "diskominfo")
    app_engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    out = 0
    most = 0

    def checked_out(*_: object) -> None:
        nonlocal out, most
        out += 1
        most = max(most, out)

    def checked_in(*_: object) -> None:
        nonlocal out
        out -= 1

    event.listen(app_engine, "checkout", checked_out)
    event.listen(app_engine, "checkin", checked_in)
    try:
        for _ in range(2):  # the first records last use, the second does not
            assert client.get("/api/v1/participation", headers=headers).status_code == 200
        refused = client.post("/api/v1/posts", json={"url": "x"}, headers=headers)
        assert refused.status_code == 422  # a failing write, too, holds one connection only
        assert "opd" in refused.json()["detail"]
    finally:
        event.remove(app_engine, "checkout", checked_out)
        event.remove(app_engine, "checkin", checked_in)
    assert most == 1
    with Session(engine) as session:
        assert session.exec(select(ApiKey)).one().last_used_at is not None
