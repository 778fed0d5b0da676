"""``gaung broadcast`` and ``gaung worker``: run the delivery workers from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from bot.broadcast import Broadcaster, Stats
from bot.feeds import FeedPoller
from bot.housekeeping import retention_loop
from bot.runtime import build_channels, channel_rates, use_db_threads, worker_config
from db.delivery.outbox import Progress as SendProgress
from db.delivery.outbox import progress
from db.engine import make_engine, session_scope
from db.errors import Conflict
from db.models import PostStatus
from db.posts.lifecycle import get_post
from db.settings import Settings
from db.types import utcnow

# Pending rows not due within this horizon wait for a channel window (a long flood wait, a
# daily cap): ``--wait`` reports them as deferred instead of waiting for them.
DEFER_HORIZON = timedelta(minutes=15)


@dataclass
class BroadcastSummary:
    post_id: int
    progress: SendProgress
    seconds: float
    stats: Stats | None

    def as_dict(self) -> dict[str, object]:
        p = self.progress
        return {
            "id": self.post_id,
            "total": p.total,
            "sent": p.sent,
            "failed": p.failed,
            "pending": p.pending,
            "deferred": p.deferred,
            "failures": p.failures,
            "seconds": round(self.seconds, 2),
        }


def check_post(settings: Settings, post_id: int) -> None:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine, readonly=True) as session:
            post = get_post(session, post_id)
            if post.status == PostStatus.SUBMITTED:
                raise Conflict(
                    f"postingan #{post_id} belum disetujui: `gaung post approve {post_id}`"
                )
            if post.status in (PostStatus.REJECTED, PostStatus.CANCELLED):
                raise Conflict(f"postingan #{post_id} berstatus {post.status}: tidak dikirim")
    finally:
        engine.dispose()


def read_progress(settings: Settings, post_id: int) -> SendProgress:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine, readonly=True) as session:
            return progress(session, post_id, now=utcnow(), horizon=DEFER_HORIZON)
    finally:
        engine.dispose()


async def send_and_watch(
    settings: Settings, post_id: int, console: Console, *, show: bool = True
) -> BroadcastSummary:
    """Send this post beside any running workers (the outbox lease keeps it once)."""
    engine = make_engine(settings.database_url)
    channels = build_channels(settings, engine)
    broadcaster = Broadcaster(
        engine,
        channels,
        channel_rates(settings),
        config=worker_config(settings, reminders=False),
        post_id=post_id,
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(broadcaster.run(stop))
    began = time.monotonic()
    columns = [
        TextColumn("[bold]#{task.fields[post]}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn(
            "terkirim {task.fields[sent]} · gagal {task.fields[failed]} · "
            "antre {task.fields[pending]} · {task.fields[rate]:.1f}/s"
        ),
        TimeRemainingColumn(),
    ]
    try:
        try:
            with Progress(*columns, console=console, disable=not show, transient=False) as bar:
                state = await asyncio.to_thread(_progress, engine, post_id)
                task = bar.add_task(
                    "kirim",
                    total=state.total,
                    post=post_id,
                    sent=0,
                    failed=0,
                    pending=state.pending,
                    rate=0.0,
                )
                first_sent = state.sent
                while True:
                    state = await asyncio.to_thread(_progress, engine, post_id)
                    elapsed = max(1e-6, time.monotonic() - began)
                    bar.update(
                        task,
                        completed=state.sent + state.failed,
                        sent=state.sent,
                        failed=state.failed,
                        pending=state.pending,
                        rate=(state.sent - first_sent) / elapsed,
                    )
                    if state.done or runner.done():
                        break
                    await asyncio.sleep(0.25)
        finally:
            stop.set()
            stats = await runner
        final = await asyncio.to_thread(_progress, engine, post_id)
    finally:
        # Also when the database fails mid-watch: the CLI then says so in one line, and
        # neither the channels nor the engine's connections are left open.
        for channel in channels.values():
            await channel.aclose()
        engine.dispose()
    return BroadcastSummary(post_id, final, time.monotonic() - began, stats)


def _progress(engine: object, post_id: int) -> SendProgress:
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    with session_scope(engine, readonly=True) as session:
        return progress(session, post_id, now=utcnow(), horizon=DEFER_HORIZON)


async def run_worker(settings: Settings, console: Console) -> Stats:
    """Until SIGINT/SIGTERM: broadcasts, retries, scheduled posts and reminders."""
    engine = make_engine(settings.database_url)
    channels = build_channels(settings, engine)
    broadcaster = Broadcaster(
        engine, channels, channel_rates(settings), config=worker_config(settings)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    console.print(
        f"Pekerja {broadcaster.worker_id} berjalan ({', '.join(channels)}); Ctrl+C untuk berhenti."
    )
    feeds = asyncio.create_task(FeedPoller.from_settings(engine, settings).run(stop))
    purger = asyncio.create_task(retention_loop(engine, settings.retention_months, stop))
    try:
        return await broadcaster.run(stop)
    finally:
        stop.set()
        await feeds
        await purger
        for channel in channels.values():
            await channel.aclose()
        engine.dispose()


async def run_bot(settings: Settings, console: Console) -> Stats:
    """``gaung bot``: the Telegram bot by long polling, with the delivery workers beside it."""
    from bot.ratelimit import Pacer
    from bot.telegram.service import TelegramService

    if not settings.telegram_token:
        raise Conflict("GAUNG_TELEGRAM_TOKEN belum diatur")
    use_db_threads()
    engine = make_engine(settings.database_url)
    pacer = Pacer(settings.telegram_rate)
    service = TelegramService(settings, engine, pacer, polling=True)
    channels = build_channels(settings, engine)
    broadcaster = Broadcaster(
        engine,
        channels,
        channel_rates(settings),
        config=worker_config(settings),
        pacers={"telegram": pacer},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
        me = service.application.bot.username
        console.print(
            f"Bot @{me} berjalan (long polling) dengan pekerja pengiriman; Ctrl+C untuk berhenti."
        )
        return await broadcaster.run(stop)
    finally:
        await service.stop()
        for channel in channels.values():
            await channel.aclose()
        engine.dispose()
