"""One bot, one pace (issue 10): 8,000 ASN at 30/s against every limiter shape the emulator can
assume, beside python-telegram-bot with ``AIORateLimiter``, on PostgreSQL with durable defaults.

Telegram does not publish how it counts its "about 30 messages per second", so each run names
the emulator's *assumption*: ``sliding`` (at most 30 in any second: the strictest), ``bucket``
(a token bucket of 30) or ``fixed`` (30 per clock second); the penalty rule is ``growing``
(1 s more flood wait for every send during one) in all of them. Every figure comes from the
emulator's own call log (a fresh emulator process per run): the accepted rate after the first
10 s, 429s as a share of send requests, and per chat, lost and duplicated messages.

Senders:
- ``gaung worker`` (``GAUNG_TELEGRAM_RATE=30``) in its own process;
- python-telegram-bot 22, ``AIORateLimiter(max_retries=3)``, as its documentation recommends
  for broadcasts (a 429 pauses every request and is retried), ``asyncio.gather`` over all chats;
- the same with ``AIORateLimiter()``'s defaults (``max_retries=0``): a ``RetryAfter`` reaches
  the loop, which sleeps ``retry_after`` and tries again.
And once, paid broadcast: ``gaung worker`` at 1,000/s with ``allow_paid_broadcast``.

``BENCH_PACE_ASN`` (default 8,000), ``BENCH_PACE_SHAPES`` (default all three, strictest
first), ``BENCH_PACE_PTB`` / ``BENCH_PACE_GAUNG`` (``0`` to skip the peers / our worker) shorten
a run on a busy machine; ``BENCH_PACE_PENALTY=none`` measures a forgiving flood wait instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.broadcast import CAPTION, TOKEN, Worker, wait_until
from bench.databases import approve_for_everyone, emulated_roster, kept_databases
from bot.channels.base import OutgoingPost
from bot.channels.telegram import post_keyboard, post_text
from bot.emulators.telegram.runner import EmulatorProcess, free_port
from bot.emulators.telegram.world import FIRST_USER_ID
from bot.telegram.ratelimit import retry_seconds
from db.delivery.pace import CAP
from db.engine import make_engine

ASN = int(os.environ.get("BENCH_PACE_ASN", "8000"))
SHAPES = os.environ.get("BENCH_PACE_SHAPES", "sliding,bucket,fixed").split(",")
WITH_PTB = os.environ.get("BENCH_PACE_PTB", "1") != "0"
WITH_GAUNG = os.environ.get("BENCH_PACE_GAUNG", "1") != "0"
WITH_SERVE = os.environ.get("BENCH_PACE_SERVE", "1") != "0"
WITH_PAID = os.environ.get("BENCH_PACE_PAID", "1") != "0"
SERVE_SHAPES = os.environ.get("BENCH_PACE_SERVE_SHAPES", "sliding").split(",")
WRITES = 20.0  # ASN messages per second to `gaung serve` beside the broadcast
TAPS = 2.0  # button taps per second (each redraws a keyboard)
PENALTY = os.environ.get("BENCH_PACE_PENALTY", "growing")
LIMIT = 30.0
PAID = 1000.0
STEADY_AFTER = 10.0  # s: the figures count from here
RATE_TARGET = 0.95  # × the limit, after the first 10 s
LIMITED_TARGET = 0.2  # % of send requests answered 429
PAID_TARGET = 10.0  # s
PTB_CAP = 1.2 * ASN / LIMIT  # s: a peer still going then is stopped and counted as it stands


@dataclass
class Figures:
    sender: str
    shape: str
    wall: float
    steady_rate: float  # accepted sends/s after the first 10 s
    requests: int
    limited: int
    lost: int
    duplicates: int
    finished: bool = True

    @property
    def limited_pct(self) -> float:
        return 100.0 * self.limited / max(1, self.requests)

    def verdict(self, *, paid: bool = False) -> str:
        misses = []
        if paid:
            if self.wall > PAID_TARGET:
                misses.append("time")
        else:
            if self.steady_rate < RATE_TARGET * LIMIT:
                misses.append("rate")
            if self.limited_pct > LIMITED_TARGET:
                misses.append("429s")
        if not self.finished:
            misses.append("unfinished")
        if self.lost:
            misses.append("lost")
        if self.duplicates:
            misses.append("duplicates")
        return "met" if not misses else f"**NOT met** ({', '.join(misses)})"


def emulator(shape: str) -> EmulatorProcess:
    process = EmulatorProcess(
        token=TOKEN,
        rate=LIMIT,
        shape=shape,  # type: ignore[arg-type]
        penalty=PENALTY,  # type: ignore[arg-type]
        paid_rate=PAID,
    )
    users = process.op("add_users", count=ASN)
    assert users == list(range(FIRST_USER_ID, FIRST_USER_ID + ASN)), "emulator ids moved"
    return process


def figures(process: EmulatorProcess, sender: str, shape: str, wall: float) -> Figures:
    log: list[list[float]] = process.op("send_log")
    accepted = sorted(at for at, status in log if status == 200)
    limited = sum(1 for _, status in log if status == 429)
    counts: dict[str, int] = process.op("delivered_counts")
    per_chat = [counts.get(str(FIRST_USER_ID + n), 0) for n in range(ASN)]
    steady = 0.0
    if accepted:
        start = accepted[0] + STEADY_AFTER
        late = [at for at in accepted if at >= start]
        if len(late) > 1:
            steady = (len(late) - 1) / max(1e-9, late[-1] - late[0])
    return Figures(
        sender,
        shape,
        wall,
        steady,
        len(log),
        limited,
        sum(1 for n in per_chat if n == 0),
        sum(n - 1 for n in per_chat if n > 1),
    )


def gaung_run(url: str, shape: str, folder: Path, *, paid: bool = False) -> Figures:
    process = emulator(shape)
    engine = make_engine(url)
    try:
        post_id, queued = approve_for_everyone(
            engine, f"https://www.instagram.com/p/pace{shape}{int(time.time())}/", CAPTION
        )
        assert queued == ASN, queued
        env = {"GAUNG_TELEGRAM_RATE": str(int(PAID if paid else LIMIT))}
        if paid:
            env["GAUNG_TELEGRAM_PAID_BROADCAST"] = "true"
        began = time.perf_counter()
        worker = Worker(url, process, folder, **env)
        try:
            wait_until(engine, post_id, ASN, timeout=ASN / (PAID if paid else LIMIT) * 3 + 60)
            wall = time.perf_counter() - began
        except BaseException:
            print(worker.tail(), flush=True)
            raise
        finally:
            worker.stop()
        label = "`gaung worker`" + (" (paid, 1,000/s)" if paid else "")
        return figures(process, label, shape, wall)
    finally:
        engine.dispose()
        process.close()


@dataclass
class ServeFigures:
    """The broadcast beside a live ``gaung serve`` answering ASN and redrawing buttons."""

    shape: str
    wall: float
    most_in_a_second: int  # everything the bot sent, most in any one-second window
    seconds_over: int  # one-second windows (sliding, at each send) above the limit
    replies: int
    written: int
    reply_p50: float
    reply_p95: float
    redraws: int
    taps: int
    broadcast_rate: float  # posts/s after the first 10 s
    others_rate: float  # replies + redraws per second over the same stretch
    limited: int
    requests: int
    lost: int
    duplicates: int

    @property
    def share(self) -> float:
        """The broadcast's rate over what the replies and redraws left of the limit."""
        return self.broadcast_rate / max(1e-9, LIMIT - self.others_rate)


class Server:
    """``gaung serve`` (webhook, no ``--worker``) as an operator starts it."""

    def __init__(self, url: str, process: EmulatorProcess, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "serve.log"
        env = {
            **os.environ,
            "GAUNG_DATABASE_URL": url,
            "GAUNG_TELEGRAM_TOKEN": TOKEN,
            "GAUNG_TELEGRAM_API_URL": process.url,
            "GAUNG_TELEGRAM_RATE": str(int(LIMIT)),
            "GAUNG_TELEGRAM_WEBHOOK_SECRET": "bench-rahasia-webhook-yang-cukup-panjang-32",
            "GAUNG_SECRET_KEY": "bench-kunci-rahasia-dasbor-0123456789abcdef",
            "GAUNG_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=log,
                cwd=folder,
            )
        deadline = time.monotonic() + 300
        while "setWebhook 200" not in process.op("stats")["calls"]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.log.read_text(errors="replace")[-2000:])
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _tolerant(action: Coroutine[Any, Any, None]) -> None:
    """A control call the emulator dropped (a keep-alive connection it closed) is skipped."""
    import httpx

    with contextlib.suppress(httpx.HTTPError):
        await action


async def _people(api: str, stop: asyncio.Event) -> tuple[dict[int, list[float]], int]:
    """ASN writing ``/status`` (``WRITES``/s) and tapping Like on the post they got (``TAPS``/s)
    until ``stop``; returns when each wrote (per chat) and how many taps landed."""
    import httpx

    rng = random.Random(7)
    written: dict[int, list[float]] = {}
    taps = 0
    async with httpx.AsyncClient(base_url=f"{api}/_emulator", timeout=30) as client:

        async def write() -> None:
            user = FIRST_USER_ID + rng.randrange(ASN)
            moment = time.monotonic()
            response = await client.post("/say", json={"user_id": user, "text": "/status"})
            if response.status_code == 200:  # counted only once the message is in Telegram
                written.setdefault(user, []).append(moment)

        async def tap() -> None:
            nonlocal taps
            user = FIRST_USER_ID + rng.randrange(ASN)
            found = (await client.post("/messages", json={"chat_id": user})).json()["result"]
            for message in found:
                rows = (message.get("_markup") or {}).get("inline_keyboard") or []
                data = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
                if data:
                    await client.post(
                        "/press",
                        json={
                            "user_id": user,
                            "message_id": message["message_id"],
                            "data": data[0],
                        },
                    )
                    taps += 1
                    return

        began, n = time.monotonic(), 0
        every = round((WRITES + TAPS) / TAPS)  # one tap in so many
        pending: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            n += 1
            task = asyncio.create_task(_tolerant(tap() if n % every == 0 else write()))
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(max(0.0, began + n / (WRITES + TAPS) - time.monotonic()))
        await asyncio.gather(*pending, return_exceptions=True)
    return written, taps


def serve_run(url: str, shape: str, folder: Path) -> ServeFigures:
    """8,000 at 30/s by ``gaung worker`` while ``gaung serve`` answers ASN and redraws."""
    process = EmulatorProcess(
        token=TOKEN,
        local=True,
        rate=LIMIT,
        shape=shape,  # type: ignore[arg-type]
        penalty=PENALTY,  # type: ignore[arg-type]
        paid_rate=PAID,
    )
    users = process.op("add_users", count=ASN)
    assert users == list(range(FIRST_USER_ID, FIRST_USER_ID + ASN)), "emulator ids moved"
    engine = make_engine(url)
    server = Server(url, process, folder)
    try:
        post_id, queued = approve_for_everyone(
            engine, f"https://www.instagram.com/p/paceserve{shape}{int(time.time())}/", CAPTION
        )
        assert queued == ASN, queued
        began = time.perf_counter()
        worker = Worker(url, process, folder, GAUNG_TELEGRAM_RATE=str(int(LIMIT)))
        stop = asyncio.Event()

        async def load() -> tuple[dict[int, list[float]], int]:
            people = asyncio.create_task(_people(process.url, stop))
            left = LIMIT * CAP - WRITES - TAPS  # what the replies and redraws leave
            await asyncio.to_thread(wait_until, engine, post_id, ASN, timeout=ASN / left * 2 + 120)
            stop.set()
            return await people

        try:
            written, taps = asyncio.run(load())
            wall = time.perf_counter() - began
            time.sleep(5)  # the last replies and redraws
        finally:
            worker.stop()
        log = process.op("call_log")
        counts: dict[str, int] = process.op("delivered_counts")
    finally:
        server.stop()
        engine.dispose()
        process.close()
    sends = sorted(
        (at, method, status, chat, text)
        for at, method, status, chat, text in log
        if method in ("sendMessage", "editMessageReplyMarkup", "editMessageText")
    )
    accepted = [at for at, _, status, _, _ in sends if status == 200]
    most, over, j = 0, 0, 0
    for i, at in enumerate(accepted):
        while accepted[j] <= at - 1.0:
            j += 1
        most = max(most, i - j + 1)
        over += i - j + 1 > LIMIT
    posts = [
        at
        for at, m, st, _, text in sends
        if st == 200 and m == "sendMessage" and CAPTION[:30] in text
    ]
    others = [
        (at, m, chat)
        for at, m, st, chat, text in sends
        if st == 200 and not (m == "sendMessage" and CAPTION[:30] in text)
    ]
    latencies = []
    replies = [(at, chat) for at, m, chat in others if m == "sendMessage"]
    answered: dict[str, list[float]] = {}
    for at, chat in replies:
        answered.setdefault(chat, []).append(at)
    for user, moments in written.items():
        times = sorted(answered.get(str(user), []))
        for moment, at in zip(sorted(moments), times, strict=False):
            latencies.append(at - moment)
    steady_from = (posts[0] + STEADY_AFTER) if posts else 0.0
    late_posts = [at for at in posts if at >= steady_from]
    stretch = (late_posts[-1] - late_posts[0]) if len(late_posts) > 1 else 1e-9
    late_others = [
        at for at, _, _ in others if steady_from <= at <= (late_posts[-1] if late_posts else 0)
    ]
    per_chat = [counts.get(str(FIRST_USER_ID + n), 0) for n in range(ASN)]
    latencies.sort()
    return ServeFigures(
        shape,
        wall,
        most,
        over,
        len(replies),
        sum(len(v) for v in written.values()),
        statistics.median(latencies) if latencies else float("nan"),
        latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        sum(1 for _, m, _ in others if m != "sendMessage"),
        taps,
        (len(late_posts) - 1) / stretch if len(late_posts) > 1 else 0.0,
        len(late_others) / stretch,
        sum(1 for s in sends if s[2] == 429),
        len(sends),
        sum(1 for n in per_chat if n == 0),
        sum(max(0, n - 1) for n in per_chat) - len(replies),
    )


def serve_report(results: list[ServeFigures]) -> list[str]:
    lines = [
        "| shape | wall | most sent in any 1 s (limit 30) | 1-s windows over | replies / written "
        "| reply p50 / p95 | redraws / taps | broadcast after 10 s | replies + redraws | "
        "broadcast ÷ what was left | 429 | lost | duplicates |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.shape} | {r.wall:.1f} s | {r.most_in_a_second} | {r.seconds_over} "
            f"| {r.replies} / {r.written} | {r.reply_p50 * 1000:.0f} / {r.reply_p95 * 1000:.0f} ms "
            f"| {r.redraws} / {r.taps} | {r.broadcast_rate:.2f}/s | {r.others_rate:.2f}/s "
            f"| {r.share:.3f} × | {r.limited} ({100 * r.limited / max(1, r.requests):.2f} %) "
            f"| {r.lost} | {r.duplicates} |"
        )
    return lines


async def _ptb(api_url: str, max_retries: int) -> tuple[float, bool]:
    from telegram import InlineKeyboardMarkup, LinkPreviewOptions
    from telegram.error import RetryAfter, TelegramError
    from telegram.ext import AIORateLimiter, ApplicationBuilder
    from telegram.request import HTTPXRequest

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api_url}/bot")
        .rate_limiter(AIORateLimiter(max_retries=max_retries))
        .request(HTTPXRequest(connection_pool_size=64))
        .build()
    )
    url = "https://www.instagram.com/p/pace-ptb/"
    began = time.perf_counter()

    async def send(n: int) -> None:
        message = OutgoingPost(n + 1, str(FIRST_USER_ID + n), url, CAPTION, "instagram", "Dinas")
        markup = InlineKeyboardMarkup.de_json(post_keyboard(n + 1, url, frozenset()), None)
        while True:
            try:
                await application.bot.send_message(
                    FIRST_USER_ID + n,
                    post_text(message),
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(url=url, prefer_large_media=True),
                )
                return
            except RetryAfter as exc:  # max_retries spent (or 0): wait, as a bot author would
                await asyncio.sleep(retry_seconds(exc))
            except TelegramError:
                return

    async with application:
        try:
            await asyncio.wait_for(asyncio.gather(*(send(n) for n in range(ASN))), PTB_CAP)
            finished = True
        except TimeoutError:
            finished = False
    return time.perf_counter() - began, finished


def ptb_run(shape: str, max_retries: int) -> Figures:
    process = emulator(shape)
    quiet = logging.getLogger("telegram")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # AIORateLimiter logs every 429 with a traceback
    try:
        wall, finished = asyncio.run(_ptb(process.url, max_retries))
        label = (
            f"python-telegram-bot 22, `AIORateLimiter(max_retries={max_retries})`"
            if max_retries
            else "python-telegram-bot 22, `AIORateLimiter()` (defaults)"
        )
        result = figures(process, label, shape, wall)
        result.finished = finished
        return result
    finally:
        quiet.setLevel(level)
        process.close()


def run() -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="gaung-pace-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    results: list[Figures] = []
    paid: Figures | None = None
    with kept_databases(folder / "db", ("postgresql",)) as databases:
        url = databases["postgresql"].url
        engine = make_engine(url)
        began = time.perf_counter()
        emulated_roster(engine, ASN, seed=3)
        engine.dispose()
        print(f"roster of {ASN} in {time.perf_counter() - began:.0f} s", flush=True)
        if WITH_GAUNG and WITH_PAID:
            paid = gaung_run(url, "sliding", folder, paid=True)
            print(paid, flush=True)
        if WITH_SERVE:
            beside = [serve_run(url, shape, folder) for shape in SERVE_SHAPES]
            print("\n".join(serve_report(beside)), flush=True)
        # Our sender under every shape first, then the peers: a run cut short keeps the most.
        for shape in SHAPES if WITH_GAUNG else []:
            results.append(gaung_run(url, shape, folder))
            print("\n".join(report(results, paid)), flush=True)  # so far, if stopped later
        for shape in SHAPES if WITH_PTB else []:
            for retries in (3, 0):
                results.append(ptb_run(shape, retries))
                print("\n".join(report(results, paid)), flush=True)
    results.sort(key=lambda r: SHAPES.index(r.shape))
    return report(results, paid)


def report(results: list[Figures], paid: Figures | None) -> list[str]:
    lines = [
        "## One bot, one pace: every limiter shape (issue 10)",
        "",
        f"{ASN:,} ASN, one post, against the Telegram emulator in its own process (fresh per "
        "run) whose limit is 30 sends/s counted in the named *shape* — an assumption, since "
        "Telegram does not publish its limiter (`../shared/channels.md`): `sliding` = at most "
        "30 in any one second (the strictest), `bucket` = a token bucket of 30, `fixed` = 30 per "
        f"clock second; every shape with the `{PENALTY}` penalty (`growing`: each send during a "
        "flood wait adds 1 s) and 1 message/s per chat (bucket of 3). PostgreSQL with durable "
        "defaults "
        "(fsync and synchronous commit on). `rate after 10 s`: accepted sends per second from "
        "10 s after the first to the last, from the emulator's log; `429`: share of send "
        f"requests. Targets: rate ≥ {RATE_TARGET} × 30 = {RATE_TARGET * LIMIT:.1f}/s, 429s ≤ "
        f"{LIMITED_TARGET} %, none lost, none duplicated; paid 1,000/s within {PAID_TARGET:.0f} s.",
        "",
        "| shape | sender | wall | rate after 10 s | 429 | requests | lost | duplicates "
        "| verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results + ([paid] if paid else []):
        is_paid = r is paid
        wall = f"{r.wall:.1f} s" if r.finished else f"stopped at {r.wall:.0f} s"
        rate = f"{r.steady_rate:.2f}/s ({r.steady_rate / (PAID if is_paid else LIMIT):.3f} ×)"
        lines.append(
            f"| {r.shape} | {r.sender} | {wall} | {rate} | {r.limited} ({r.limited_pct:.2f} %) "
            f"| {r.requests} | {r.lost} | {r.duplicates} | {r.verdict(paid=is_paid)} |"
        )
    lines += [
        "",
        "The python-telegram-bot peers get the same text and keyboard, a 64-connection pool, and "
        "`asyncio.gather` over every chat; on a `RetryAfter` that reaches them they sleep "
        "`retry_after` and try again. They are stopped at "
        f"{PTB_CAP:.0f} s if still going (`lost` then counts the chats still waiting).",
    ]
    return lines
