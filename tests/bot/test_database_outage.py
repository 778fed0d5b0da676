"""PostgreSQL crash-stopped and started again under running processes (issue 12; the seconds
version of bench/faults.py rows (e) and (f)).

Each test has a server of its own, durable (a crash must not lose a commit), stopped with
``pg_ctl -m immediate`` (a crash, not a clean shutdown) and started again on the same port.
The processes are the real commands: ``gaung worker`` and ``gaung serve --worker``; nothing is
restarted by the test but PostgreSQL itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.emulators.telegram import TelegramEmulator
from db.engine import make_engine
from db.models import Confirmation, DeliveryStatus, ProcessedUpdate, table
from tests.bot.conftest import SECRET, BotProcess, registered_members
from tests.bot.test_broadcast import _worker, approve, deliveries
from tests.bot.test_webhook_crash import Update, taps_for
from tests.pg import Cluster, start_cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    try:
        own = start_cluster(durable=True)
    except (FileNotFoundError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"PostgreSQL server not available: {exc}")
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture
def pg_url(cluster: Cluster) -> str:
    return cluster.migrated("gaung")


def accepted_sends(tg: TelegramEmulator, until: float) -> int:
    """Messages Telegram accepted (``sendMessage`` answered 200) up to ``until`` (its clock)."""
    return sum(1 for c in tg.world.calls("sendMessage") if c.status == 200 and c.at <= until)


def test_workers_carry_on_by_themselves_after_postgresql_crashes_mid_broadcast(
    pg_url: str, cluster: Cluster, tg: TelegramEmulator, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        members = registered_members(engine, tg, 90)
        post_id = approve(engine)
        workers = [_worker(pg_url, tg, tmp_path)]
        tg.wait_for(lambda: tg.world.delivered_counts().total() >= 20, timeout=60)
        recorded = sum(d.status == DeliveryStatus.SENT for d in deliveries(engine, post_id))
        engine.dispose()  # its connections die with the server
        cluster.crash()
        # A second worker starts while the server is down (as in CI once, when it lagged a
        # second behind the first): it waits for the server rather than exit.
        workers.append(_worker(pg_url, tg, tmp_path))
        time.sleep(3.0)  # the workers meet a dead server: connections refused
        assert workers[1].poll() is None, (tmp_path / "worker.log").read_text()
        cluster.restart(durable=True)
        # In flight: every send Telegram accepted while its outcome could not be recorded,
        # up to the moment the server was back: the workers carry on sending what they had
        # claimed for all of the outage, not only its first seconds.
        in_flight = accepted_sends(tg, until=tg.world.clock()) - recorded

        deadline = time.monotonic() + 90
        while any(d.status != DeliveryStatus.SENT for d in deliveries(engine, post_id)):
            assert time.monotonic() < deadline, "the broadcast did not finish after the restart"
            assert all(w.poll() is None for w in workers), (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        assert all(w.poll() is None for w in workers)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        engine.dispose()  # also when an assertion failed: no connection left to the next test
    counts = tg.world.delivered_counts()
    assert sum(1 for m in members if counts[m.user_id] == 0) == 0  # none lost
    assert sum(counts[m.user_id] - 1 for m in members if counts[m.user_id]) <= in_flight


async def _redeliver(
    port: int, updates: list[Update], acked: set[int], statuses: list[int]
) -> None:
    """Telegram's side: each update until it is answered 200, 0.3 s between tries."""
    url = f"http://127.0.0.1:{port}/webhook/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(n: int, update: Update) -> None:
            update_id, _, _, body = update
            await asyncio.sleep(n * 0.02)  # 50 taps a second
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    response = await client.post(url, json=body, headers=headers)
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        acked.add(update_id)
                        return
                except httpx.HTTPError:
                    statuses.append(0)
                await asyncio.sleep(0.3)

        await asyncio.gather(*(one(n, u) for n, u in enumerate(updates)))


def test_no_tap_acknowledged_is_lost_when_postgresql_crashes_mid_storm(
    pg_url: str, cluster: Cluster, tg: TelegramEmulator, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    try:
        updates = taps_for(engine, tg, 200)
    finally:
        engine.dispose()
    server = BotProcess("webhook", pg_url, tg, tmp_path)
    acked: set[int] = set()
    statuses: list[int] = []

    def outage() -> None:
        time.sleep(1.0)
        cluster.crash()
        time.sleep(2.0)
        cluster.restart(durable=True)

    thread = threading.Thread(target=outage)
    try:
        thread.start()
        asyncio.run(_redeliver(server.port, updates, acked, statuses))
        thread.join()
        assert server.process.poll() is None, server.log()
    finally:
        thread.join()
        server.stop()
    assert any(s != 200 for s in statuses), "the crash refused no tap: it came too late"
    assert acked == {u for u, _, _, _ in updates}, "a refused tap was never taken again"
    engine = make_engine(pg_url)
    inbox, confirmation = table(ProcessedUpdate), table(Confirmation)
    try:
        with engine.connect() as conn:
            stored = {int(u) for (u,) in conn.execute(select(inbox.c.update_id))}
            recorded = {
                (int(d), k)
                for d, k in conn.execute(select(confirmation.c.delivery_id, confirmation.c.kind))
            }
    finally:
        engine.dispose()
    assert acked <= stored  # every tap answered 200 was durably stored
    taps = {(d, "like" if k == "l" else "share") for _, d, k, _ in updates}
    assert recorded == taps  # each recorded once, none made up
