"""One bot, one pace, against the emulated Bot API on SQLite and PostgreSQL.

Each "process" here is what a ``gaung`` process builds: its own engine (connections), its own
pacer on the shared ledger in the database, its own broadcaster. They run in one event loop so
the tests stay fast; they share nothing but the database and the emulated Telegram.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from telegram.ext import ExtBot
from typer.testing import CliRunner

from api.cli import app
from bot.broadcast import Broadcaster, WorkerConfig
from bot.channels.telegram import TelegramChannel
from bot.emulators.telegram import Limits, TelegramEmulator
from bot.ratelimit import Pacer, Priority, SharedLedger
from bot.telegram.ratelimit import PacerRateLimiter
from db.accounts.identities import mark_unreachable, opt_out
from db.delivery.outbox import progress
from db.delivery.pace import CAP, current_pace
from db.engine import make_engine, session_scope
from db.models import Asn, ChatIdentity, DeliveryStatus
from db.types import utcnow
from tests.bot.conftest import registered_members
from tests.bot.test_broadcast import FAST, approve, deliveries


class Process:
    """What one ``gaung worker`` builds: engine, channel, shared pacer, broadcaster."""

    def __init__(
        self,
        database_url: str,
        tg: TelegramEmulator,
        *,
        ceiling: float,
        config: WorkerConfig = FAST,
        clock: object = utcnow,
    ) -> None:
        self.engine = make_engine(database_url)
        self.channel = TelegramChannel(tg.token, tg.url)
        self.pacer = Pacer(ceiling, ledger=SharedLedger(self.engine, "telegram"))
        self.worker = Broadcaster(
            self.engine,
            {"telegram": self.channel},
            {"telegram": ceiling},
            config=config,
            clock=clock,  # type: ignore[arg-type]
            pacers={"telegram": self.pacer},
        )

    async def close(self) -> None:
        await self.channel.aclose()
        await self.pacer.aclose()
        self.engine.dispose()


async def run_until(processes: list[Process], done: object, *, within: float) -> list[Broadcaster]:
    stop = asyncio.Event()
    runners = [asyncio.create_task(p.worker.run(stop)) for p in processes]
    deadline = time.monotonic() + within
    try:
        while not done():  # type: ignore[operator]
            assert time.monotonic() < deadline, "the broadcast did not finish in time"
            assert not any(r.done() for r in runners), "a worker stopped"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*runners)
        for p in processes:
            await p.close()
    return [p.worker for p in processes]


def finished(engine: Engine, post_id: int) -> bool:
    with session_scope(engine, readonly=True) as session:
        return progress(session, post_id, now=utcnow(), horizon=timedelta(hours=1)).pending == 0


def test_a_flood_wait_stops_every_process_and_slows_the_bot(
    database_url: str, engine: Engine
) -> None:
    # The operator set 40/s; this Telegram allows 20/s in any second and punishes hammering.
    # Workers (two on PostgreSQL, one on SQLite) broadcast while a "gaung serve" answers ASN
    # through python-telegram-bot on the same budget.
    with TelegramEmulator(Limits(rate=20, shape="sliding", penalty="growing")) as tg:
        members = registered_members(engine, tg, 120)
        post_id = approve(engine)
        count = 2 if engine.dialect.name == "postgresql" else 1
        processes = [Process(database_url, tg, ceiling=40) for _ in range(count)]
        serve_engine = make_engine(database_url)
        serve = Pacer(40, ledger=SharedLedger(serve_engine, "telegram"))
        replied: list[int] = []

        async def answer_people() -> None:
            bot = ExtBot(tg.token, base_url=f"{tg.url}/bot", rate_limiter=PacerRateLimiter(serve))
            await bot.initialize()
            try:
                for member in members[:30]:
                    await bot.send_message(member.user_id, "Terima kasih, data Anda tercatat.")
                    replied.append(member.user_id)
                    await asyncio.sleep(0.1)
            finally:
                await bot.shutdown()

        async def scenario() -> list[Broadcaster]:
            replies = asyncio.create_task(answer_people())
            try:
                return await run_until(
                    processes,
                    lambda: finished(engine, post_id) and replies.done(),
                    within=60,
                )
            finally:
                await replies
                await serve.aclose()
                serve_engine.dispose()

        workers = asyncio.run(scenario())
        counts = tg.world.delivered_counts()
        assert len(replied) == 30  # every reply got through, none dropped on a 429
        assert [counts[m.user_id] for m in members] == [2] * 30 + [1] * 90
        assert all(w.stats.sent > 0 for w in workers)  # the workers really shared the broadcast
        limited = [c for c in tg.world.calls("sendMessage") if c.status == 429]
        # Each 429 stops every process: what follows one is at most the sends already on the
        # wire or in the slots already handed out, never a stream of sends during the wait.
        assert len(limited) <= 12 * (count + 1)
        with session_scope(engine, readonly=True) as session:
            rate, _ = current_pace(session, "telegram")
        assert rate is not None and rate < 40 * CAP  # the bot learned to go slower


def test_replies_get_through_before_a_broadcast_backlog(database_url: str, engine: Engine) -> None:
    async def scenario() -> tuple[float, int]:
        other = make_engine(database_url)
        worker = Pacer(20, ledger=SharedLedger(engine, "telegram"), per_chat_interval=0)
        serve = Pacer(20, ledger=SharedLedger(other, "telegram"), per_chat_interval=0)
        try:
            sent: list[str] = []

            async def broadcast(n: int) -> None:
                await worker.acquire(f"b{n}", Priority.BROADCAST)
                sent.append(f"b{n}")

            backlog = [asyncio.create_task(broadcast(n)) for n in range(80)]  # 4 s at 20/s
            await asyncio.sleep(0.5)
            asked = time.monotonic()
            await serve.acquire("someone who just wrote", Priority.REPLY)
            waited = time.monotonic() - asked
            behind = 80 - len(sent)
            for task in backlog:
                task.cancel()
            await asyncio.gather(*backlog, return_exceptions=True)
            return waited, behind
        finally:
            await worker.aclose()
            await serve.aclose()
            other.dispose()

    waited, behind = asyncio.run(scenario())
    assert behind > 40  # the broadcast still had two seconds and more to go ...
    assert waited < 1.0  # ... and the reply went within the slots already promised, not after


def test_an_outage_mid_broadcast_fails_nothing_and_sending_resumes_soon_after(
    database_url: str, engine: Engine
) -> None:
    # Five minutes of 502s, on a worker clock running 100× faster than the wall clock (3 s).
    began, base = time.monotonic(), utcnow()

    def clock() -> datetime:
        return base + timedelta(seconds=(time.monotonic() - began) * 100)

    config = WorkerConfig(**{**FAST.__dict__, "probe_interval": 1.0, "lease": timedelta(hours=1)})
    with TelegramEmulator(Limits(rate=1000, chat_burst=10)) as tg:
        members = registered_members(engine, tg, 60)
        post_id = approve(engine)
        process = Process(database_url, tg, ceiling=20, config=config, clock=clock)
        recovered: list[float] = []

        async def outage() -> None:
            await asyncio.to_thread(
                tg.wait_for, lambda: tg.world.delivered_counts().total() >= 15, 30
            )
            tg.world.inject_fault("error", status=502, count=10**6, methods=["sendMessage"])
            await asyncio.sleep(3.0)
            tg.world.clear_faults()
            recovered.append(tg.world.clock())

        async def scenario() -> None:
            fault = asyncio.create_task(outage())
            await run_until([process], lambda: finished(engine, post_id), within=60)
            await fault

        asyncio.run(scenario())
        rows = deliveries(engine, post_id)
        assert [d.status for d in rows] == [DeliveryStatus.SENT] * 60
        assert all(tg.world.delivered_counts()[m.user_id] == 1 for m in members)
        assert process.worker.stats.outages == 1
        ok_after = [
            c.at for c in tg.world.calls("sendMessage") if c.status == 200 and c.at > recovered[0]
        ]
        assert ok_after and ok_after[0] - recovered[0] < 10  # here: one probe interval
        assert max(d.attempts for d in rows) <= 1 + 2  # the outage spent no attempts


def test_berhenti_a_block_or_leaving_after_approval_stop_the_queued_delivery(
    database_url: str, engine: Engine, tg: TelegramEmulator
) -> None:
    members = registered_members(engine, tg, 6)
    post_id = approve(engine)
    stopped, blocked, left = members[:3]
    with session_scope(engine) as session:
        asn = session.get(Asn, stopped.asn_id)
        assert asn is not None
        opt_out(session, asn)
        chat = session.exec(select(ChatIdentity).where(ChatIdentity.asn_id == blocked.asn_id)).one()
        mark_unreachable(session, chat, "Forbidden: bot was blocked by the user")
        gone = session.get(Asn, left.asn_id)
        assert gone is not None
        gone.active = False
        session.add(gone)
    process = Process(database_url, tg, ceiling=100)
    asyncio.run(run_until([process], lambda: finished(engine, post_id), within=30))
    counts = tg.world.delivered_counts()
    assert [counts[m.user_id] for m in members] == [0, 0, 0, 1, 1, 1]
    with session_scope(engine, readonly=True) as session:
        state = progress(session, post_id, now=utcnow(), horizon=timedelta(hours=1))
    assert (state.sent, state.skipped, state.failed) == (3, 3, 0)


@pytest.mark.parametrize("wrong", ["token", "address"])
def test_broadcast_wait_with_a_bad_token_or_address_names_the_setting(
    wrong: str,
    database_url: str,
    engine: Engine,
    tg: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    registered_members(engine, tg, 2)
    post_id = approve(engine)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("GAUNG_TELEGRAM_TOKEN", "123456:WRONG" if wrong == "token" else tg.token)
    monkeypatch.setenv("GAUNG_TELEGRAM_API_URL", tg.url if wrong == "token" else f"{tg.url}/salah")
    began = time.monotonic()
    result = CliRunner().invoke(app, ["broadcast", str(post_id), "--wait"])
    assert time.monotonic() - began < 60
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert ("GAUNG_TELEGRAM_TOKEN" if wrong == "token" else "GAUNG_TELEGRAM_API_URL") in lines[0]
    assert tg.world.delivered_counts().total() == 0


def test_an_address_that_does_not_answer_is_named_after_the_patience_runs_out() -> None:
    from bot.channels.base import Misconfigured
    from bot.emulators.thread import free_port

    async def scenario() -> str:
        channel = TelegramChannel("123:X", f"http://127.0.0.1:{free_port()}")
        try:
            await channel.check(patience=0.2)
        except Misconfigured as exc:
            return exc.reason
        finally:
            await channel.aclose()
        return ""

    assert "GAUNG_TELEGRAM_API_URL" in asyncio.run(scenario())
