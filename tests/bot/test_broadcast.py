"""The delivery engine against the emulated Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import select

from bot.broadcast import Broadcaster, ReminderPolicy, WorkerConfig
from bot.channels.telegram import TelegramChannel
from bot.emulators.telegram import Limits, TelegramEmulator
from bot.ratelimit import Pacer
from db.accounts.identities import opt_out
from db.delivery.confirmations import confirm
from db.delivery.outbox import progress, requeue_failed
from db.engine import make_engine, session_scope
from db.models import Asn, ChatIdentity, Delivery, DeliveryStatus, FailureKind, Post
from db.posts.lifecycle import approve_post, submit_post
from db.types import utcnow
from tests.bot.conftest import Member, registered_members

_posts = itertools.count(1)
FAST = WorkerConfig(
    backoff_base=0.05, backoff_cap=0.2, idle_poll=0.05, heartbeat_interval=0.2, probe_interval=0.1
)


def approve(engine: Engine, *, send_at: datetime | None = None, now: datetime | None = None) -> int:
    with session_scope(engine) as session:
        url = f"https://instagram.com/p/gaung{next(_posts)}"
        post = submit_post(session, opd_kode="DINKES", url=url, caption="Posyandu")
        assert post.id is not None
        approve_post(session, post.id, now=now or utcnow(), send_at=send_at)
        return post.id


def deliveries(engine: Engine, post_id: int) -> list[Delivery]:
    with session_scope(engine, readonly=True) as session:
        return list(session.exec(select(Delivery).where(Delivery.post_id == post_id)).all())


async def broadcast(
    engine: Engine,
    tg: TelegramEmulator,
    post_id: int,
    *,
    rate: float = 500,
    config: WorkerConfig = FAST,
    until: Callable[[], bool] | None = None,
    within: float = 30,
    clock: Callable[[], datetime] = utcnow,
    pacers: Mapping[str, Pacer] | None = None,
) -> Broadcaster:
    channel = TelegramChannel(tg.token, tg.url)
    worker = Broadcaster(
        engine,
        {"telegram": channel},
        {"telegram": rate},
        config=config,
        clock=clock,
        pacers=pacers,
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(worker.run(stop))

    def finished() -> bool:
        with session_scope(engine, readonly=True) as session:
            state = progress(session, post_id, now=clock(), horizon=timedelta(hours=1))
            return state.pending == 0

    deadline = time.monotonic() + within
    try:
        while not (until or finished)():
            assert time.monotonic() < deadline, "broadcast did not finish in time"
            assert not runner.done(), "the worker stopped"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await runner
        await channel.aclose()
    return worker


def two_workers(
    database_url: str,
    engine: Engine,
    tg: TelegramEmulator,
    post_id: int,
    *,
    pacers: Callable[[Engine], Mapping[str, Pacer]] | None = None,
    **options: Any,
) -> list[Broadcaster]:
    """Two workers broadcast one post at once, each on its own engine as two processes are;
    ``pacers`` gives each its pacers from its engine, ``options`` go to ``broadcast``."""

    async def both() -> list[Broadcaster]:
        other = make_engine(database_url)
        try:
            runs = (
                broadcast(e, tg, post_id, pacers=pacers(e) if pacers else None, **options)
                for e in (engine, other)
            )
            return list(await asyncio.gather(*runs))
        finally:
            other.dispose()

    return asyncio.run(both())


def broadcast_to_members(
    engine: Engine, tg: TelegramEmulator, count: int
) -> tuple[list[Member], dict[int, Delivery]]:
    """``count`` registered ASN and a post broadcast to them all: the ASN and, by ASN id, the
    delivery each got."""
    members = registered_members(engine, tg, count)
    post_id = approve(engine)
    asyncio.run(broadcast(engine, tg, post_id))
    return members, {d.asn_id: d for d in deliveries(engine, post_id)}


def test_every_asn_gets_the_post_once_with_its_buttons(
    engine: Engine, tg: TelegramEmulator
) -> None:
    members = registered_members(engine, tg, 40)
    post_id = approve(engine)
    asyncio.run(broadcast(engine, tg, post_id))
    counts = tg.world.delivered_counts()
    assert all(counts[m.user_id] == 1 for m in members)
    by_asn = {d.asn_id: d for d in deliveries(engine, post_id)}
    with session_scope(engine, readonly=True) as session:
        post = session.get(Post, post_id)
        assert post is not None
        url = post.url
    for member in members:
        [message] = tg.world.messages(member.user_id)
        assert url in message.text and "Posyandu" in message.text
        labels = [b["text"] for b in message.buttons()]
        assert any("Like" in x for x in labels) and any("Share" in x for x in labels)
        assert any(b.get("url") == url for b in message.buttons())
        delivery = by_asn[member.asn_id]
        assert delivery.status == DeliveryStatus.SENT
        assert delivery.message_id == str(message.message_id)
        assert delivery.sent_at is not None and delivery.attempts == 1


def test_a_starting_worker_has_caught_up_only_once_every_due_send_is_answered(
    engine: Engine, tg: TelegramEmulator
) -> None:
    """``gaung worker`` starts its other duties (python-telegram-bot's import, the feed
    poller) after ``caught_up``: not while a post approved before it started is going out."""
    registered_members(engine, tg, 30)
    approve(engine)

    async def scenario() -> tuple[int, float]:
        channel = TelegramChannel(tg.token, tg.url)
        worker = Broadcaster(engine, {"telegram": channel}, {"telegram": 100}, config=FAST)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run(stop))
        began = time.monotonic()
        await worker.caught_up(stop, within=30)
        took = time.monotonic() - began
        delivered = sum(tg.world.delivered_counts().values())
        stop.set()
        await runner
        await channel.aclose()
        return delivered, took

    delivered, took = asyncio.run(scenario())
    assert delivered == 30  # 30 sends at 100/s: about 0.3 s
    assert took < 25  # caught up, not timed out


def test_unreachable_users_are_marked_and_never_retried(
    engine: Engine, tg: TelegramEmulator
) -> None:
    members = registered_members(engine, tg, 8)
    blocked, gone, stranger, unknown = members[:4]
    tg.world.block(blocked.user_id)
    tg.world.deactivate(gone.user_id)
    tg.world.users[stranger.user_id].started = False
    del tg.world.users[unknown.user_id]  # the chat no longer exists at Telegram
    post_id = approve(engine)
    asyncio.run(broadcast(engine, tg, post_id))
    by_asn = {d.asn_id: d for d in deliveries(engine, post_id)}
    expected = {
        blocked.asn_id: "blocked by the user",
        gone.asn_id: "user is deactivated",
        stranger.asn_id: "can't initiate conversation",
        unknown.asn_id: "chat not found",
    }
    for asn_id, reason in expected.items():
        assert by_asn[asn_id].status == DeliveryStatus.FAILED
        assert reason in (by_asn[asn_id].error or "")
        assert by_asn[asn_id].attempts == 1
    assert all(by_asn[m.asn_id].status == DeliveryStatus.SENT for m in members[4:])
    with session_scope(engine, readonly=True) as session:
        unreachable = session.exec(select(ChatIdentity).where(~ChatIdentity.reachable)).all()
        assert {i.asn_id for i in unreachable} == set(expected)
    sends = [c for c in tg.world.calls("sendMessage") if c.status == 403]
    assert len(sends) == 3  # one try each: a 403 is never retried
    # The next post skips them altogether.
    second = approve(engine)
    assert {d.asn_id for d in deliveries(engine, second)}.isdisjoint(expected)


def test_server_errors_and_dropped_connections_are_retried_then_given_up(
    engine: Engine, tg: TelegramEmulator
) -> None:
    members = registered_members(engine, tg, 5)
    tg.world.inject_fault("error", status=502, count=3, methods=["sendMessage"])
    tg.world.inject_fault("drop", count=2, methods=["sendMessage"])
    post_id = approve(engine)
    asyncio.run(broadcast(engine, tg, post_id))
    assert all(d.status == DeliveryStatus.SENT for d in deliveries(engine, post_id))
    assert all(tg.world.delivered_counts()[m.user_id] == 1 for m in members)
    # Five failures in a row are the channel's outage: only the first two spend an attempt.
    assert 5 <= sum(d.attempts for d in deliveries(engine, post_id)) <= 5 + 2

    # A server that keeps failing: the delivery fails once its time budget is spent, as a
    # transient failure with the reason kept, and --retry-failed queues exactly those again.
    tg.world.inject_fault("error", status=500, count=10_000, methods=["sendMessage"])
    again = approve(engine)
    config = WorkerConfig(**{**FAST.__dict__, "time_budget": timedelta(seconds=0.5)})
    asyncio.run(broadcast(engine, tg, again, config=config))
    failed = deliveries(engine, again)
    assert all(d.status == DeliveryStatus.FAILED for d in failed)
    assert all(d.failure_kind == FailureKind.TRANSIENT for d in failed)
    assert all("gagal terus selama" in (d.error or "") for d in failed)
    assert all("Internal Server Error" in (d.error or "") for d in failed)
    tg.world.clear_faults()
    with session_scope(engine) as session:
        assert requeue_failed(session, again, now=utcnow()) == 5
    asyncio.run(broadcast(engine, tg, again))
    assert all(d.status == DeliveryStatus.SENT for d in deliveries(engine, again))
    assert all(tg.world.delivered_counts()[m.user_id] == 2 for m in members)


def test_retry_after_is_obeyed_for_the_whole_bot(engine: Engine) -> None:
    # The worker believes it may send 40/s; the emulated Telegram allows 10/s.
    with TelegramEmulator(Limits(rate=10, burst=10, flood_penalty=1.0)) as tg:
        members = registered_members(engine, tg, 60)
        post_id = approve(engine)
        worker = asyncio.run(broadcast(engine, tg, post_id, rate=40, within=60))
        assert all(tg.world.delivered_counts()[m.user_id] == 1 for m in members)
        limited = [c for c in tg.world.calls("sendMessage") if c.status == 429]
        assert limited and worker.stats.rate_limited == len(limited)
        # Obeying retry_after means a 429 is followed by silence, not by a hail of requests
        # that each lengthen the penalty: at most the sends already on the wire.
        assert len(limited) <= 3 * worker.max_inflight
        ok = [c for c in tg.world.calls("sendMessage") if c.status == 200]
        assert len(ok) == 60


def test_two_workers_share_one_broadcast_without_duplicates(
    database_url: str, tg: TelegramEmulator
) -> None:
    engine = make_engine(database_url)
    members = registered_members(engine, tg, 120)
    post_id = approve(engine)

    first, second = two_workers(database_url, engine, tg, post_id, rate=150)
    assert first.stats.sent > 0 and second.stats.sent > 0
    assert first.stats.sent + second.stats.sent == 120
    counts = tg.world.delivered_counts()
    assert sorted(counts[m.user_id] for m in members) == [1] * 120
    engine.dispose()


def test_a_scheduled_post_waits_for_its_time(engine: Engine, tg: TelegramEmulator) -> None:
    members = registered_members(engine, tg, 3)
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    post_id = approve(engine, now=now, send_at=now + timedelta(hours=2))
    clock = [now + timedelta(hours=1)]

    async def run_for(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        await broadcast(
            engine, tg, post_id, clock=lambda: clock[0], until=lambda: time.monotonic() > deadline
        )

    asyncio.run(run_for(0.5))
    assert tg.world.delivered_counts().total() == 0
    clock[0] = now + timedelta(hours=2, seconds=1)
    asyncio.run(broadcast(engine, tg, post_id, clock=lambda: clock[0]))
    assert all(tg.world.delivered_counts()[m.user_id] == 1 for m in members)


def test_reminders_go_once_to_those_who_have_not_acted_outside_quiet_hours(
    engine: Engine, tg: TelegramEmulator
) -> None:
    members = registered_members(engine, tg, 6)
    sent_at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 08:00 WIB
    post_id = approve(engine, now=sent_at)
    asyncio.run(broadcast(engine, tg, post_id, clock=lambda: sent_at))
    liker, opted_out, blocked = members[:3]
    with session_scope(engine) as session:
        by_asn = {d.asn_id: d for d in session.exec(select(Delivery)).all()}
        confirm(session, by_asn[liker.asn_id], "like")
        asn = session.get(Asn, opted_out.asn_id)
        assert asn is not None
        opt_out(session, asn)
    tg.world.block(blocked.user_id)
    policy = ReminderPolicy(
        delay=timedelta(hours=6),
        tz=ZoneInfo("Asia/Jakarta"),
        quiet_start=datetime.strptime("21:00", "%H:%M").time(),
        quiet_end=datetime.strptime("06:00", "%H:%M").time(),
    )

    def remind(at: datetime) -> int:
        channel = TelegramChannel(tg.token, tg.url)
        worker = Broadcaster(engine, {"telegram": channel}, {"telegram": 100}, clock=lambda: at)

        async def once() -> int:
            try:
                count = await worker.remind_once(policy)
                worker._write(worker._outcomes)  # record what the round learned
                return count
            finally:
                await channel.aclose()

        return asyncio.run(once())

    assert remind(sent_at + timedelta(hours=5)) == 0  # too early
    assert remind(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)) == 0  # 22:00 WIB: quiet hours
    assert remind(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)) == 3  # 15:00 WIB
    assert remind(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) == 0  # only once
    counts = tg.world.delivered_counts()
    assert counts[liker.user_id] == counts[opted_out.user_id] == counts[blocked.user_id] == 1
    for member in members[3:]:
        assert counts[member.user_id] == 2
        assert "Pengingat" in tg.world.messages(member.user_id)[-1].text
    with session_scope(engine, readonly=True) as session:
        identity = session.exec(
            select(ChatIdentity).where(ChatIdentity.external_id == str(blocked.user_id))
        ).one()
        assert not identity.reachable


def _worker(database_url: str, tg: TelegramEmulator, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GAUNG_DATABASE_URL": database_url,
        "GAUNG_TELEGRAM_TOKEN": tg.token,
        "GAUNG_TELEGRAM_API_URL": tg.url,
        "GAUNG_TELEGRAM_RATE": "30",
        "GAUNG_DELIVERY_LEASE_SECONDS": "2",
    }
    with (tmp_path / "worker.log").open("ab") as log:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker"],
            env=env,
            stdout=log,
            stderr=log,
            cwd=tmp_path,
        )


def test_kill_9_mid_broadcast_loses_nothing_and_resends_only_what_was_in_flight(
    database_url: str, tg: TelegramEmulator, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    members = registered_members(engine, tg, 150)
    post_id = approve(engine)
    worker = _worker(database_url, tg, tmp_path)
    try:
        tg.wait_for(lambda: tg.world.delivered_counts().total() >= 50, timeout=60)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    time.sleep(0.3)  # requests already on the wire still reach Telegram
    on_telegram = tg.world.delivered_counts().total()
    recorded = sum(d.status == DeliveryStatus.SENT for d in deliveries(engine, post_id))
    in_flight = on_telegram - recorded
    assert 0 <= in_flight < 150

    restarted = _worker(database_url, tg, tmp_path)
    try:
        tg.wait_for(
            lambda: len([n for n in tg.world.delivered_counts().values() if n]) == 150,
            timeout=90,
        )
        deadline = time.monotonic() + 30
        while any(d.status != DeliveryStatus.SENT for d in deliveries(engine, post_id)):
            assert time.monotonic() < deadline, "deliveries not all recorded"
            time.sleep(0.1)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    counts = tg.world.delivered_counts()
    lost = sum(1 for m in members if counts[m.user_id] == 0)
    duplicated = sum(counts[m.user_id] - 1 for m in members)
    assert lost == 0
    assert duplicated <= in_flight
    engine.dispose()
