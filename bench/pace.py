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
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.broadcast import CAPTION, TOKEN, Worker, wait_until
from bench.databases import approve_for_everyone, emulated_roster, kept_databases
from bot.channels.base import OutgoingPost
from bot.channels.telegram import post_keyboard, post_text
from bot.emulators.telegram.runner import EmulatorProcess
from bot.emulators.telegram.world import FIRST_USER_ID
from bot.telegram.ratelimit import retry_seconds
from db.engine import make_engine

ASN = int(os.environ.get("BENCH_PACE_ASN", "8000"))
SHAPES = os.environ.get("BENCH_PACE_SHAPES", "sliding,bucket,fixed").split(",")
WITH_PTB = os.environ.get("BENCH_PACE_PTB", "1") != "0"
WITH_GAUNG = os.environ.get("BENCH_PACE_GAUNG", "1") != "0"
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
        worker = Worker(url, process, folder, **env)  # type: ignore[arg-type]
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
        if WITH_GAUNG:
            paid = gaung_run(url, "sliding", folder, paid=True)
            print(paid, flush=True)
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
