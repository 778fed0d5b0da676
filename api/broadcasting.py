"""``gaung broadcast`` and ``gaung worker``: run the delivery workers from the command line.

``gaung worker`` may be started just as a post is approved (``bench/broadcast.py``: its start-up
was 2.1 s of a paid broadcast's 10 s), so this module imports at its top only what sending
needs; the progress bar, the notifier (python-telegram-bot), the feed poller (feedparser) and
the other duties are imported where they are used, the duties once sending has begun
(``tests/api/test_worker_startup.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.broadcast import Broadcaster, Stats
from bot.channels.base import Misconfigured
from bot.channels.registry import ChannelRegistry, build_registry
from db.delivery.outbox import Progress as SendProgress
from db.delivery.outbox import progress, requeue_failed
from db.engine import make_engine, session_scope
from db.errors import Conflict, GaungError
from db.models import PostStatus
from db.posts.lifecycle import get_post
from db.settings import Settings
from db.types import utcnow

if TYPE_CHECKING:
    from rich.console import Console

    from bot.conversation.notifier import Notifier
    from bot.feeds import Notify, WaitingNotice

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
            "skipped": p.skipped,
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


def retry_failed(settings: Settings, post_id: int) -> int:
    """``--retry-failed``: queue again the post's transient failures; how many."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            return requeue_failed(session, post_id, now=utcnow())
    finally:
        engine.dispose()


class ChannelUnusable(GaungError):
    """A channel cannot work as configured (bad token, wrong address): the message names the
    setting to fix."""

    status_code = 400


async def check_channels(registry: ChannelRegistry, *, patience: float = 30.0) -> None:
    """Fail fast, naming the setting, instead of pausing and retrying for ever."""
    for channel in registry.channels.values():
        check = getattr(channel, "check", None)
        if check is None:
            continue
        try:
            await check(patience=patience)
        except Misconfigured as exc:
            raise ChannelUnusable(exc.reason) from None


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
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    engine = make_engine(settings.database_url)
    registry = build_registry(settings, engine)
    try:
        registry.require_channels()
        await check_channels(registry)
    except BaseException:
        await registry.aclose()
        engine.dispose()
        raise
    broadcaster = registry.broadcaster(post_id=post_id, reminders=False)
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
        await registry.aclose()
        engine.dispose()
    return BroadcastSummary(post_id, final, time.monotonic() - began, stats)


def _progress(engine: object, post_id: int) -> SendProgress:
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    with session_scope(engine, readonly=True) as session:
        return progress(session, post_id, now=utcnow(), horizon=DEFER_HORIZON)


def feed_notice(engine: Engine, notifier: Notifier) -> Notify:
    """Tell an OPD's admins, on every channel they have, that their feed produced a post
    waiting for Diskominfo."""
    from bot.conversation.replies import Address, Notice, Reply
    from bot.texts import Markup
    from db.accounts.admins import admin_accounts

    async def tell(notice: WaitingNotice) -> None:
        def whom() -> list[Notice]:
            with session_scope(engine, readonly=True) as session:
                accounts = admin_accounts(session, notice.admin_ids)
            reply = Reply(Markup(html.escape(notice.text, quote=False)))
            return [Notice(Address(a.channel, a.external_id, a.chat_id), reply) for a in accounts]

        await notifier.tell(await asyncio.to_thread(whom))

    return tell


async def recap_loop(
    engine: Engine,
    settings: Settings,
    notifier: Notifier,
    broadcaster: Broadcaster,
    stop: asyncio.Event,
) -> None:
    """The daily recap beside this process's delivery worker (issue 15); one process sends it."""
    from bot.recap import Recapper

    await Recapper(engine, settings, notifier, worker=broadcaster.worker_id).run(stop)


# The modules of a worker's other duties and its notifier (python-telegram-bot the largest).
DUTY_MODULES = (
    "telegram.ext",
    "bot.telegram.ratelimit",
    "bot.telegram.render",
    "bot.conversation.notifier",
    "bot.feeds",
    "bot.housekeeping",
    "bot.recap",
    "bot.clarification",
)


def _import_duties() -> None:
    for name in DUTY_MODULES:
        importlib.import_module(name)


async def run_worker(settings: Settings, console: Console) -> Stats:
    """Until SIGINT/SIGTERM: broadcasts, retries, scheduled posts and reminders."""
    engine = make_engine(settings.database_url)
    registry = build_registry(settings, engine)
    from api.healthcheck import worker_id_prefix

    try:
        # The host name in the id lets the container's health check find its own heartbeat.
        broadcaster = registry.broadcaster(worker_id=f"{worker_id_prefix()}{uuid.uuid4().hex[:12]}")
    except BaseException:
        await registry.aclose()
        engine.dispose()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    console.print(
        f"Pekerja {broadcaster.worker_id} berjalan ({', '.join(registry.channels)}); "
        "Ctrl+C untuk berhenti."
    )
    # Sending starts first: the notifier's Telegram client (python-telegram-bot's import and a
    # getMe round trip) and the background duties (their imports too: they run on this event
    # loop) are not what a post approved at this moment should wait for.
    sending = asyncio.create_task(broadcaster.run(stop))
    duties: list[asyncio.Task[object]] = []
    try:
        await broadcaster.caught_up(stop)
        # In a thread: if sending has not caught up, the loop keeps its pace meanwhile (the
        # thread gives the GIL back every few ms) instead of stalling for the whole import.
        await asyncio.to_thread(_import_duties)
        from bot.clarification import reach_recap_loop
        from bot.feeds import FeedPoller
        from bot.housekeeping import retention_loop

        notifier = await registry.notifier()
        poller = FeedPoller.from_settings(engine, settings, notify=feed_notice(engine, notifier))
        duties += [
            asyncio.create_task(poller.run(stop)),
            asyncio.create_task(retention_loop(engine, settings.retention_months, stop)),
            asyncio.create_task(recap_loop(engine, settings, notifier, broadcaster, stop)),
            asyncio.create_task(reach_recap_loop(engine, notifier, stop)),
        ]
        return await sending
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await sending  # (returned above, or ends now that ``stop`` is set)
        for duty in duties:
            await duty
        await registry.aclose()
        engine.dispose()


async def run_bot(settings: Settings, console: Console) -> Stats:
    """``gaung bot``: the Telegram bot by long polling, with the delivery workers beside it."""
    from bot.clarification import reach_recap_loop
    from bot.runtime import use_db_threads
    from bot.telegram.service import TelegramService

    if not settings.telegram_token:
        raise Conflict("GAUNG_TELEGRAM_TOKEN belum diatur")
    use_db_threads()
    engine = make_engine(settings.database_url)
    registry = build_registry(settings, engine)
    service = TelegramService(settings, engine, registry.pacers["telegram"], polling=True)
    broadcaster = registry.broadcaster()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
        if service.health == "ok":
            me = service.application.bot.username
            console.print(
                f"Bot @{me} berjalan (long polling) dengan pekerja pengiriman; "
                "Ctrl+C untuk berhenti."
            )
        else:
            console.print(f"Telegram belum terjangkau ({service.problem}); bot mencoba lagi.")
        # The bot's own notifier: the admins' Telegram accounts, through the bot already polling.
        recaps = asyncio.create_task(
            recap_loop(engine, settings, service.notifier, broadcaster, stop)
        )
        reach = asyncio.create_task(reach_recap_loop(engine, service.notifier, stop))
        try:
            return await broadcaster.run(stop)
        finally:
            stop.set()
            await recaps
            await reach
    finally:
        await service.stop()
        await registry.aclose()
        engine.dispose()
