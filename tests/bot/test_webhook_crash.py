"""A ``gaung serve`` killed with SIGKILL in the middle of a burst of taps."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from bot.emulators.telegram import TelegramEmulator
from db.delivery.counters import rebuild
from db.engine import session_scope
from db.models import Confirmation, PostOpdStat, ProcessedUpdate, table
from tests.bot.conftest import SECRET, BotProcess, registered_members
from tests.bot.test_broadcast import approve, broadcast, deliveries

Update = tuple[int, int, str, dict[str, object]]  # update_id, delivery, kind, body


def taps_for(engine: Engine, tg: TelegramEmulator, count: int) -> list[Update]:
    members = registered_members(engine, tg, 40)
    post_id = approve(engine)
    asyncio.run(broadcast(engine, tg, post_id))
    user_of = {m.asn_id: m.user_id for m in members}
    sent = [(d.id or 0, user_of[d.asn_id]) for d in deliveries(engine, post_id)]
    rng = random.Random(11)
    updates = []
    for n in range(count):
        delivery_id, user = rng.choice(sent)  # some (delivery, kind) tapped more than once
        kind = rng.choice("ls")
        query = {
            "id": f"q{n}",
            "from": {"id": user, "is_bot": False, "first_name": "ASN"},
            "chat_instance": "1",
            "data": f"g1:{delivery_id}:{kind}",
        }
        updates.append(
            (70_000 + n, delivery_id, kind, {"update_id": 70_000 + n, "callback_query": query})
        )
    return updates


async def deliver(
    port: int,
    updates: list[Update],
    *,
    pid: int = 0,
    kill_after_acks: int = 0,
    kill_after_seconds: float = 0.0,
) -> set[int]:
    """Send as Telegram does (40 at a time); the update_ids answered 200. With ``pid``, SIGKILL
    the server once ``kill_after_acks`` were answered or ``kill_after_seconds`` have passed,
    with requests still in flight."""
    answered: set[int] = set()
    pending = list(updates)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    url = f"http://127.0.0.1:{port}/webhook/telegram"

    def kill() -> None:
        pending.clear()
        os.kill(pid, signal.SIGKILL)

    async with httpx.AsyncClient(timeout=30) as client:

        async def sender() -> None:
            while pending:
                update_id, _, _, body = pending.pop()
                try:
                    response = await client.post(url, json=body, headers=headers)
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    answered.add(update_id)
                    if pid and len(answered) == kill_after_acks:
                        kill()

        async def timer() -> None:
            if pid and kill_after_seconds:
                await asyncio.sleep(kill_after_seconds)
                kill()

        await asyncio.gather(timer(), *(sender() for _ in range(40)))
    return answered


@contextmanager
def writes_blocked(engine: Engine) -> Iterator[None]:
    """Another writer holds the lock the inbox needs (a long transaction, a slow disk)."""
    with engine.connect() as conn:
        transaction = conn.begin()  # SQLite: BEGIN IMMEDIATE, the database's write lock
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE processed_update IN SHARE ROW EXCLUSIVE MODE")
        try:
            yield
        finally:
            transaction.rollback()


def stopped(server: BotProcess) -> None:
    server.process.kill()
    server.process.wait()


def recorded(engine: Engine) -> tuple[set[int], set[tuple[int, str]]]:
    with session_scope(engine, readonly=True) as session:
        conn = session.connection()
        inbox = {int(u) for (u,) in conn.execute(select(table(ProcessedUpdate).c.update_id))}
        confirmation = table(Confirmation)
        kinds = {
            (int(d), k)
            for d, k in conn.execute(select(confirmation.c.delivery_id, confirmation.c.kind))
        }
    return inbox, kinds


def test_a_killed_server_loses_no_acknowledged_tap_and_counts_redeliveries_once(
    database_url: str, engine: Engine, tg: TelegramEmulator, tmp_path: Path
) -> None:
    updates = taps_for(engine, tg, 600)
    first, second = updates[:300], updates[300:]
    server = BotProcess("webhook", database_url, tg, tmp_path)
    try:
        pid = server.process.pid
        acked = asyncio.run(deliver(server.port, first, pid=pid, kill_after_acks=150))
    finally:
        stopped(server)
    assert 150 <= len(acked) < 300
    inbox, kinds = recorded(engine)
    assert acked <= inbox  # every 200 was already committed
    assert {(d, "like" if k == "l" else "share") for u, d, k, _ in first if u in acked} <= kinds

    # While the database cannot take the inbox's writes, nothing may be acknowledged.
    server = BotProcess("webhook", database_url, tg, tmp_path)
    try:
        with writes_blocked(engine):
            pid = server.process.pid
            acked = asyncio.run(deliver(server.port, second, pid=pid, kill_after_seconds=1.5))
    finally:
        stopped(server)
    assert acked == set()
    assert recorded(engine)[0].isdisjoint(u for u, _, _, _ in second)

    # Telegram resends whatever it had no 200 for; resend everything, acked or not.
    server = BotProcess("webhook", database_url, tg, tmp_path)
    try:
        assert asyncio.run(deliver(server.port, updates)) == {u for u, _, _, _ in updates}
    finally:
        server.stop()
    inbox, kinds = recorded(engine)
    assert inbox == {u for u, _, _, _ in updates}
    assert kinds == {(d, "like" if k == "l" else "share") for _, d, k, _ in updates}
    with session_scope(engine) as session:
        stat = select(table(PostOpdStat))
        counters = sorted(tuple(row) for row in session.connection().execute(stat))
        rebuild(session)  # recount from the facts: nothing counted twice or lost in the crash
        assert sorted(tuple(row) for row in session.connection().execute(stat)) == counters
