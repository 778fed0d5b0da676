"""One bot, one pace (issue 10): 8,000 ASN at 30/s against every limiter shape the emulator can
assume, beside python-telegram-bot with ``AIORateLimiter``, on PostgreSQL with durable defaults.

Telegram does not publish how it counts its "about 30 messages per second", so each run names
the emulator's *assumption*: ``sliding`` (at most 30 in any second: the strictest), ``bucket``
(a token bucket of 30) or ``fixed`` (30 per clock second); the penalty rule is ``growing``
(1 s more flood wait for every send during one) or ``none``. Every figure comes from the
emulator's own call log (a fresh emulator process per run): the accepted rate after the first
10 s, 429s as a share of send requests, and per chat, lost and duplicated messages.

Senders:
- ``gaung worker`` (``GAUNG_TELEGRAM_RATE=30``) in its own process;
- the same beside a live ``gaung serve`` (no ``--worker``) answering ASN who write ``/status``
  at 20/s and redrawing the buttons of 2 taps/s: everything the bot sends is counted per
  one-second window, with the replies' wait (p50/p95) and the broadcast's share of what the
  replies leave;
- python-telegram-bot 22 with ``AIORateLimiter(max_retries=3)`` (retries inside the limiter,
  which halts every request for ``retry_after`` + 0.1 s) and with ``AIORateLimiter()``'s
  defaults (30/s, ``max_retries=0``: a ``RetryAfter`` reaches the loop, which sleeps
  ``retry_after`` and tries again), ``asyncio.gather`` over all chats, each in a process of its
  own killed at a cap, under every shape and penalty rule;
- paid broadcast: ``gaung worker`` at 1,000/s with ``allow_paid_broadcast``, started once
  the post is approved, and again already running at the approval.

Subsets by environment (``python -m bench pace``), so a quiet machine can run what is missing:
``BENCH_PACE_ASN`` (8,000), ``BENCH_PACE_SHAPES`` (``sliding,bucket,fixed``: our worker),
``BENCH_PACE_PENALTY`` (``growing``: our runs), ``BENCH_PACE_GAUNG=0`` (no worker runs, nor
paid), ``BENCH_PACE_PAID=0``, ``BENCH_PACE_SERVE=0`` (no run beside ``gaung serve``),
``BENCH_PACE_SERVE_SHAPES`` (``sliding``), ``BENCH_PACE_SERVE_SECONDS`` (120: how long people
write after the broadcast's first message), ``BENCH_PACE_PTB=0`` (no peers),
``BENCH_PACE_PTB_ASN`` (2,000), ``BENCH_PACE_PTB_SHAPES`` (all three),
``BENCH_PACE_PTB_PENALTIES`` (``growing,none``), ``BENCH_PACE_PTB_RETRIES`` (``3,0``),
``BENCH_PACE_PTB_CAP`` (seconds; 1.5 × the rate-implied time + 30).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from api.demo.serve import spawn_gaung, stop_gaung
from bench.broadcast import (
    CAPTION,
    TOKEN,
    Worker,
    ptb_broadcast,
    seconds,
    verdict,
    wait_until,
)
from bench.databases import approve_for_everyone, emulated_roster, kept_databases
from bench.http import cpu_seconds
from bot.emulators.telegram.runner import EmulatorProcess, free_port
from bot.emulators.telegram.world import FIRST_USER_ID
from db.delivery.pace import CAP
from db.engine import make_engine, session_scope
from db.models import WorkerHeartbeat, table

ASN = int(os.environ.get("BENCH_PACE_ASN", "8000"))


def _names(variable: str, default: str) -> list[str]:
    """A comma-separated list from the environment; empty: none (e.g. the paid run alone)."""
    return [name for name in os.environ.get(variable, default).split(",") if name]


SHAPES = _names("BENCH_PACE_SHAPES", "sliding,bucket,fixed")
WITH_PTB = os.environ.get("BENCH_PACE_PTB", "1") != "0"
WITH_GAUNG = os.environ.get("BENCH_PACE_GAUNG", "1") != "0"
WITH_SERVE = os.environ.get("BENCH_PACE_SERVE", "1") != "0"
WITH_PAID = os.environ.get("BENCH_PACE_PAID", "1") != "0"
SERVE_SHAPES = _names("BENCH_PACE_SERVE_SHAPES", "sliding")
# People write for this long from the broadcast's first message; the broadcast then ends alone.
SERVE_SECONDS = float(os.environ.get("BENCH_PACE_SERVE_SECONDS", "120"))
WRITES = 20.0  # ASN messages per second to `gaung serve` beside the broadcast
TAPS = 2.0  # button taps per second (each redraws a keyboard)
PENALTY = os.environ.get("BENCH_PACE_PENALTY", "growing")
# The python-telegram-bot peers: a smaller roster of their own (they may never finish under the
# growing penalty), every penalty rule, and a hard cap on each run (a process killed then).
PTB_ASN = int(os.environ.get("BENCH_PACE_PTB_ASN", "2000"))
PTB_SHAPES = _names("BENCH_PACE_PTB_SHAPES", "sliding,bucket,fixed")
PTB_PENALTIES = _names("BENCH_PACE_PTB_PENALTIES", "growing,none")
PTB_RETRIES = [int(n) for n in _names("BENCH_PACE_PTB_RETRIES", "3,0")]
LIMIT = 30.0
PAID = 1000.0
STEADY_AFTER = 10.0  # s: the figures count from here
RATE_TARGET = 0.95  # × the limit, after the first 10 s
LIMITED_TARGET = 0.2  # % of send requests answered 429
PAID_TARGET = 10.0  # s
REPLY_TARGET = 2.0  # s: the p95 wait of a person who wrote, beside a broadcast
PTB_CAP = float(os.environ.get("BENCH_PACE_PTB_CAP", str(1.5 * PTB_ASN / LIMIT + 30)))


@dataclass
class Figures:
    sender: str
    shape: str
    penalty: str
    wall: float
    steady_rate: float  # accepted sends/s after the first 10 s
    requests: int
    limited: int
    lost: int
    duplicates: int
    finished: bool = True
    measured: str = ""  # the commit and time it ran on (``measured_now``)

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
        return verdict(misses, lost=self.lost, duplicates=self.duplicates)


@dataclass
class Split:
    """Where a paid run's time went (issue 10): from the approval to the first send the
    emulator accepted, the sends, and from the last send to its outcome in the database; the
    CPU the worker and the emulator spent over the run (the machine has 2 cores: with the
    database's, it says whether the run was short of CPU)."""

    sender: str
    first_send: float  # s from the approval
    sending: float  # s from the first accepted send to the last
    sends: int
    tail: float  # s from the last accepted send to the last ``sent_at`` recorded
    worker_cpu: float
    emulator_cpu: float
    measured: str = ""

    @property
    def rate(self) -> float:
        return (self.sends - 1) / max(1e-9, self.sending)


SPLIT_COLUMNS = (
    "| sender | approval → first send | first → last send | rate while sending "
    "| last send → recorded | worker CPU per send | emulator CPU per send | measured |"
)


def split_line(r: Split) -> str:
    per = 1000 / max(1, r.sends)
    return (
        f"| {r.sender} | {r.first_send:.2f} s | {r.sending:.2f} s | {r.rate:.0f}/s "
        f"| {r.tail:.2f} s | {r.worker_cpu * per:.2f} ms | {r.emulator_cpu * per:.2f} ms "
        f"| {r.measured} |"
    )


def emulator(
    shape: str, *, penalty: str = PENALTY, users: int = ASN, local: bool = False
) -> EmulatorProcess:
    """A fresh emulated Telegram with ``users`` people, limited as ``shape`` and ``penalty``
    assume (``local``: it may deliver webhooks to this machine's ``gaung serve``)."""
    process = EmulatorProcess(
        token=TOKEN,
        local=local,
        rate=LIMIT,
        shape=shape,  # type: ignore[arg-type]
        penalty=penalty,  # type: ignore[arg-type]
        paid_rate=PAID,
    )
    made = process.op("add_users", count=users)
    assert made == list(range(FIRST_USER_ID, FIRST_USER_ID + users)), "emulator ids moved"
    return process


def lost_and_duplicated(per_chat: list[int]) -> tuple[int, int]:
    """Chats without the post, and posts beyond one per chat."""
    return sum(1 for n in per_chat if n == 0), sum(max(0, n - 1) for n in per_chat)


def rate_after(stamps: list[float], start: float) -> float:
    """Sends per second from ``start`` to the last of ``stamps`` (sorted)."""
    late = [at for at in stamps if at >= start]
    return (len(late) - 1) / max(1e-9, late[-1] - late[0]) if len(late) > 1 else 0.0


def figures(
    process: EmulatorProcess,
    sender: str,
    shape: str,
    wall: float,
    *,
    penalty: str = PENALTY,
    users: int = ASN,
) -> Figures:
    log: list[list[float]] = process.op("send_log")
    accepted = sorted(at for at, status in log if status == 200)
    limited = sum(1 for _, status in log if status == 429)
    counts: dict[str, int] = process.op("delivered_counts")
    lost, duplicated = lost_and_duplicated(
        [counts.get(str(FIRST_USER_ID + n), 0) for n in range(users)]
    )
    steady = rate_after(accepted, accepted[0] + STEADY_AFTER) if accepted else 0.0
    return Figures(sender, shape, penalty, wall, steady, len(log), limited, lost, duplicated)


def gaung_run(
    url: str,
    shape: str,
    folder: Path,
    *,
    paid: bool = False,
    running: bool = False,
    splits: list[Split] | None = None,
) -> Figures:
    """One post to everyone by ``gaung worker``; ``wall`` from the approval to the last send
    recorded. The worker starts once the post is approved (its start-up counts), or with
    ``running`` is up and idle before the approval, as in operation. ``splits``: where the
    time went (``Split``) is added to it."""
    process = emulator(shape)
    engine = make_engine(url)
    env = {"GAUNG_TELEGRAM_RATE": str(int(PAID if paid else LIMIT))}
    if paid:
        env["GAUNG_TELEGRAM_PAID_BROADCAST"] = "true"
    worker = Worker(url, process, folder, **env) if running else None
    try:
        if worker is not None:
            wait_for_heartbeat(engine, timeout=120)
        post_id, queued = approve_for_everyone(
            engine, f"https://www.instagram.com/p/pace{shape}{time.time_ns()}/", CAPTION
        )
        assert queued == ASN, queued
        began, approved = time.perf_counter(), time.monotonic()
        cpu = (worker.cpu_seconds() if worker else 0.0, cpu_seconds(process.pid))
        worker = worker or Worker(url, process, folder, **env)
        try:
            state = wait_until(
                engine, post_id, ASN, timeout=ASN / (PAID if paid else LIMIT) * 3 + 60
            )
            wall = time.perf_counter() - began
            cpu = (worker.cpu_seconds() - cpu[0], cpu_seconds(process.pid) - cpu[1])
        except BaseException:
            print(worker.tail(), flush=True)
            raise
        notes = [
            *(["paid, 1,000/s"] if paid else []),
            *(["running at approval"] if running else []),
        ]
        label = "`gaung worker`" + (f" ({'; '.join(notes)})" if notes else "")
        if splits is not None:
            splits.append(split(process, label, approved, seconds(state.last), cpu))
        return figures(process, label, shape, wall)
    finally:
        if worker is not None:
            worker.stop()
        engine.dispose()
        process.close()


def split(
    process: EmulatorProcess,
    sender: str,
    approved: float,
    last_recorded: float,
    cpu: tuple[float, float],
) -> Split:
    """``approved``: on the monotonic clock, which the emulator's log shares (one machine);
    ``last_recorded``: the last ``sent_at``, epoch seconds."""
    accepted = sorted(at for at, status in process.op("send_log") if status == 200)
    to_monotonic = time.monotonic() - time.time()
    return Split(
        sender,
        accepted[0] - approved,
        accepted[-1] - accepted[0],
        len(accepted),
        last_recorded + to_monotonic - accepted[-1],
        *cpu,
    )


def wait_for_heartbeat(engine: Engine, *, timeout: float) -> None:
    """Until a worker's first heartbeat: it has started and claims what is due."""
    beats = table(WorkerHeartbeat)
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine, readonly=True) as session:
            if session.connection().execute(select(func.count()).select_from(beats)).scalar():
                return
        if time.monotonic() > deadline:
            raise TimeoutError("no worker heartbeat")
        time.sleep(0.05)


@dataclass
class ServeFigures:
    """The broadcast beside a live ``gaung serve`` answering ASN and redrawing buttons.

    Rates count over the stretch from 10 s after the broadcast's first message until the
    people stopped writing (``beside`` seconds); everything else over the whole run."""

    shape: str
    wall: float
    beside: float
    most_in_a_second: int  # everything the bot sent, most in any one-second window
    seconds_over: int  # one-second windows (sliding, at each send) above the limit
    replies: int
    written: int
    reply_p50: float
    reply_p95: float
    redraws: int
    taps: int
    broadcast_rate: float  # posts/s over the stretch
    others_rate: float  # replies + redraws per second over the same stretch
    limited: int
    requests: int
    lost: int
    duplicates: int
    serve_cpu: float  # s of CPU `gaung serve` spent during the run
    measured: str = ""  # the commit and time it ran on

    @property
    def total(self) -> float:
        """Everything the bot sent per second (broadcast, replies, redraws) over the limit:
        the issue's "the same" figure (at least 0.95 × the limit) beside ``gaung serve``."""
        return (self.broadcast_rate + self.others_rate) / LIMIT

    @property
    def share_of_pace(self) -> float:
        """The same over what they left of the pace the ledger aims at (``CAP`` × the limit):
        with 22 replies and redraws a second, 30 − 22 = 8 can never be reached at 28.8 − 22."""
        return self.broadcast_rate / max(1e-9, CAP * LIMIT - self.others_rate)

    def verdict(self) -> str:
        misses = []
        if self.most_in_a_second > LIMIT:
            misses.append("sum over the limit")
        if 100 * self.limited / max(1, self.requests) > LIMITED_TARGET:
            misses.append("429s")
        if self.total < RATE_TARGET:
            misses.append("sum under 0.95 × the limit")
        if not self.reply_p95 <= REPLY_TARGET or self.replies < self.written:
            misses.append("replies")
        return verdict(misses, lost=self.lost, duplicates=self.duplicates)


class Server:
    """``gaung serve`` (webhook, no ``--worker``) as an operator starts it."""

    def __init__(self, url: str, process: EmulatorProcess, folder: Path) -> None:
        port = free_port()
        env = {
            **os.environ,
            "GAUNG_DATABASE_URL": url,
            "GAUNG_TELEGRAM_TOKEN": TOKEN,
            "GAUNG_TELEGRAM_API_URL": process.url,
            "GAUNG_TELEGRAM_RATE": str(int(LIMIT)),
            "GAUNG_TELEGRAM_WEBHOOK_SECRET": "bench-rahasia-webhook-yang-cukup-panjang-32",
            "GAUNG_SECRET_KEY": "bench-kunci-rahasia-dasbor-0123456789abcdef",
            "GAUNG_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        self.log = folder / "serve.log"
        self.process = spawn_gaung(["serve", "--port", str(port)], env, folder, self.log)
        deadline = time.monotonic() + 300
        while "setWebhook 200" not in process.op("stats")["calls"]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self.log.read_text(errors="replace")[-2000:])
            time.sleep(0.2)

    def stop(self) -> None:
        stop_gaung(self.process)


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
    """8,000 at 30/s by ``gaung worker`` while ``gaung serve`` answers ASN and redraws: people
    write from the start, for ``SERVE_SECONDS`` after the broadcast's first message; then the
    broadcast ends alone (so lost and duplicated count every chat)."""
    process = emulator(shape, local=True)
    engine = make_engine(url)
    server = Server(url, process, folder)
    try:
        post_id, queued = approve_for_everyone(
            engine, f"https://www.instagram.com/p/paceserve{shape}{int(time.time())}/", CAPTION
        )
        assert queued == ASN, queued
        began = time.perf_counter()
        cpu = cpu_seconds(server.process.pid)
        worker = Worker(url, process, folder, GAUNG_TELEGRAM_RATE=str(int(LIMIT)))

        async def load() -> tuple[dict[int, list[float]], int, float]:
            stop = asyncio.Event()
            people = asyncio.create_task(_people(process.url, stop))
            await asyncio.to_thread(wait_until, engine, post_id, 1, timeout=300)
            finish = asyncio.create_task(
                asyncio.to_thread(wait_until, engine, post_id, ASN, timeout=ASN / 2 + 300)
            )
            await asyncio.wait([finish], timeout=SERVE_SECONDS)
            stop.set()
            stopped = time.monotonic()
            written, taps = await people
            await finish
            return written, taps, stopped

        try:
            written, taps, stopped = asyncio.run(load())
            wall = time.perf_counter() - began
            time.sleep(5)  # the last replies and redraws
            cpu = cpu_seconds(server.process.pid) - cpu
        except BaseException:
            print(worker.tail(), flush=True)
            raise
        finally:
            worker.stop()
        log = process.op("call_log")
        kept = folder / f"serve-{shape}-calls.json"  # for a closer look: bench/pace.py timeline
        kept.write_text(json.dumps({"calls": log, "written": written, "stopped": stopped}))
    finally:
        server.stop()
        engine.dispose()
        process.close()
    return serve_figures(shape, wall, log, written, taps, stopped, cpu)


def most_in_a_second(stamps: list[float]) -> tuple[int, int]:
    """The most of ``stamps`` (sorted) in any one-second window, and how many windows ending
    at a stamp hold more than the limit."""
    most, over, j = 0, 0, 0
    for i, at in enumerate(stamps):
        while stamps[j] <= at - 1.0:
            j += 1
        most = max(most, i - j + 1)
        over += i - j + 1 > LIMIT
    return most, over


def serve_figures(
    shape: str,
    wall: float,
    log: list[list[Any]],
    written: dict[int, list[float]],
    taps: int,
    stopped: float,
    cpu: float,
) -> ServeFigures:
    sends = sorted(
        (at, method, status, chat, text)
        for at, method, status, chat, text in log
        if method in ("sendMessage", "editMessageReplyMarkup", "editMessageText")
    )
    most, over = most_in_a_second([at for at, _, status, _, _ in sends if status == 200])
    posts = [
        (at, chat)
        for at, m, st, chat, text in sends
        if st == 200 and m == "sendMessage" and CAPTION[:30] in text
    ]
    others = [
        (at, m, chat)
        for at, m, st, chat, text in sends
        if st == 200 and not (m == "sendMessage" and CAPTION[:30] in text)
    ]
    replies = [(at, chat) for at, m, chat in others if m == "sendMessage"]
    answered: dict[str, list[float]] = {}
    for at, chat in replies:
        answered.setdefault(chat, []).append(at)
    latencies = sorted(
        at - moment
        for user, moments in written.items()
        for moment, at in zip(sorted(moments), sorted(answered.get(str(user), [])), strict=False)
    )
    start = (posts[0][0] + STEADY_AFTER) if posts else stopped
    beside = max(1e-9, stopped - start)
    per_chat: dict[str, int] = {}
    for _, chat in posts:
        per_chat[chat] = per_chat.get(chat, 0) + 1
    lost, duplicated = lost_and_duplicated(
        [per_chat.get(str(FIRST_USER_ID + n), 0) for n in range(ASN)]
    )
    return ServeFigures(
        shape,
        wall,
        beside,
        most,
        over,
        len(replies),
        sum(len(v) for v in written.values()),
        statistics.median(latencies) if latencies else float("nan"),
        latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        sum(1 for _, m, _ in others if m != "sendMessage"),
        taps,
        sum(1 for at, _ in posts if start <= at <= stopped) / beside,
        sum(1 for at, _, _ in others if start <= at <= stopped) / beside,
        sum(1 for s in sends if s[2] == 429),
        len(sends),
        lost,
        duplicated,
        cpu,
    )


SERVE_COLUMNS = (
    "| shape | wall | beside (s) | most sent in any 1 s (limit 30) | 1-s windows over "
    "| replies / written | reply p50 / p95 | redraws / taps | broadcast | replies + redraws "
    "| everything ÷ 30 | broadcast ÷ (pace − replies − redraws) | 429 | lost "
    "| duplicates | `gaung serve` CPU per message | verdict | measured |"
)


def serve_line(r: ServeFigures) -> str:
    return (
        f"| {r.shape} | {r.wall:.1f} s | {r.beside:.0f} | {r.most_in_a_second} "
        f"| {r.seconds_over} | {r.replies} / {r.written} "
        f"| {r.reply_p50 * 1000:.0f} / {r.reply_p95 * 1000:.0f} ms "
        f"| {r.redraws} / {r.taps} | {r.broadcast_rate:.2f}/s | {r.others_rate:.2f}/s "
        f"| {r.total:.3f} × | {r.share_of_pace:.3f} × "
        f"| {r.limited} ({100 * r.limited / max(1, r.requests):.2f} %) "
        f"| {r.lost} | {r.duplicates} "
        f"| {1000 * r.serve_cpu / max(1, r.written + r.taps):.1f} ms | {r.verdict()} "
        f"| {r.measured} |"
    )


def ptb_run(shape: str, penalty: str, max_retries: int) -> Figures:
    """One peer in a process of its own, killed if it outlives its cap (cancelling thousands
    of sends stuck in flood waits once took longer than the run)."""
    process = emulator(shape, penalty=penalty, users=PTB_ASN)
    began = time.perf_counter()
    try:
        try:
            peer = subprocess.run(
                [sys.executable, "-m", "bench.pace", process.url, str(max_retries)],
                capture_output=True,
                text=True,
                timeout=PTB_CAP + 30,
                check=False,
            )
            outcome = json.loads(peer.stdout.strip().splitlines()[-1])
            wall, finished = float(outcome["wall"]), bool(outcome["finished"])
        except (subprocess.TimeoutExpired, ValueError, IndexError, KeyError):
            wall, finished = time.perf_counter() - began, False
        label = (
            f"python-telegram-bot 22, `AIORateLimiter(max_retries={max_retries})`"
            if max_retries
            else "python-telegram-bot 22, `AIORateLimiter()` (defaults)"
        )
        result = figures(process, label, shape, wall, penalty=penalty, users=PTB_ASN)
        result.finished = finished
        return result
    finally:
        process.close()


def run() -> list[str]:
    """The runs the environment asks for; the section keeps the rows of the others."""
    from bench.__main__ import _previous, revision

    code = revision()  # the code the rows measure: as it is when they start
    commit = f"`{code.commit[:12]}`{'' if code.clean else ' dirty'}"
    previous = _previous().get("pace", "")
    folder = Path(tempfile.mkdtemp(prefix="gaung-pace-"))
    folder.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    ran: dict[str, str] = {}
    beside: dict[str, str] = {}
    splits: list[Split] = []
    split_rows: dict[str, str] = {}

    def done(result: Figures | ServeFigures, *, paid: bool = False) -> None:
        """Stamp a row with what it measured; print the section so far (a run stopped later
        keeps the most)."""
        result.measured = f"{commit}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}"
        if isinstance(result, ServeFigures):
            beside[result.shape] = serve_line(result)
        else:
            line = row_line(result, paid=paid)
            ran[row_key(line)] = line
        for part in splits:
            part.measured = result.measured
            split_rows[part.sender] = split_line(part)
        splits.clear()
        print("\n".join(report(ran, beside, previous, split_rows)), flush=True)

    with kept_databases(folder / "db", ("postgresql",)) as databases:
        url = databases["postgresql"].url
        engine = make_engine(url)
        began = time.perf_counter()
        emulated_roster(engine, ASN, seed=3)
        engine.dispose()
        print(f"roster of {ASN} in {time.perf_counter() - began:.0f} s", flush=True)
        if WITH_GAUNG and WITH_PAID:
            for running in (False, True):
                result = gaung_run(
                    url, "sliding", folder, paid=True, running=running, splits=splits
                )
                done(result, paid=True)
        for shape in SERVE_SHAPES if WITH_SERVE else []:
            done(serve_run(url, shape, folder))
        for shape in SHAPES if WITH_GAUNG else []:
            done(gaung_run(url, shape, folder))
    for shape in PTB_SHAPES if WITH_PTB else []:
        for penalty in PTB_PENALTIES:
            for retries in PTB_RETRIES:
                done(ptb_run(shape, penalty, retries))
    return report(ran, beside, previous, split_rows)


COLUMNS = (
    "| shape | penalty | sender | ASN | wall | rate after 10 s | 429 | requests | lost "
    "| duplicates | verdict | measured |"
)
ALL_SHAPES = ("sliding", "bucket", "fixed")
FOOTER = ("_Measured ", "_Load average", "_Databases:")  # what ``python -m bench`` appends


def row_line(r: Figures, *, paid: bool = False) -> str:
    users = PTB_ASN if r.sender.startswith("python") else ASN
    wall = f"{r.wall:.1f} s" if r.finished else f"stopped at {r.wall:.0f} s"
    rate = f"{r.steady_rate:.2f}/s ({r.steady_rate / (PAID if paid else LIMIT):.3f} ×)"
    if paid and r.finished and r.wall <= STEADY_AFTER:
        rate = f"— (done in {r.wall:.0f} s)"
    return (
        f"| {r.shape} | {r.penalty} | {r.sender} | {users:,} | {wall} | {rate} "
        f"| {r.limited} ({r.limited_pct:.2f} %) | {r.requests} | {r.lost} | {r.duplicates} "
        f"| {r.verdict(paid=paid)} | {r.measured} |"
    )


def row_key(line: str) -> str:
    """What a row measured, whatever its figures: shape, penalty and sender (the main table),
    or the shape (beside ``gaung serve``)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return " | ".join(cells[:3]) if cells[1] in ("growing", "none") else cells[0]


def _order(key: str) -> tuple[int, int, str]:
    """Our worker by shape, then the paid run, then the peers."""
    shape, _, rest = key.partition(" | ")
    sender = rest.partition(" | ")[2]
    group = 0 if sender == "`gaung worker`" else 1 if sender.startswith("`gaung") else 2
    return group, ALL_SHAPES.index(shape) if shape in ALL_SHAPES else len(ALL_SHAPES), rest


def kept_rows(previous: str, columns: str) -> dict[str, str]:
    """The rows of the table headed ``columns`` as the section last had them, by ``row_key``:
    a run of some rows keeps the others, each naming the commit and time it measured."""
    lines = previous.splitlines()
    if columns not in lines:
        return {}
    kept = {}
    for line in lines[lines.index(columns) + 2 :]:
        if not line.startswith("| "):
            break
        kept[row_key(line)] = line
    return kept


def markdown_table(columns: str, ran: dict[str, str], kept: dict[str, str]) -> list[str]:
    rows = kept | ran
    return [columns, "| --- " * (columns.count("|") - 1) + "|"] + [
        rows[k] for k in sorted(rows, key=_order)
    ]


def kept_history(previous: str) -> list[str]:
    """Notes kept under their own ``###`` headings (earlier runs, sessions' findings): no run
    writes them, so every run keeps them as they are, without the last run's footer."""
    lines = previous.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("### ")), len(lines))
    kept = lines[start:]
    if kept and kept[-1].startswith(FOOTER[2]):
        while kept and (kept[-1].startswith(FOOTER) or not kept[-1].strip()):
            kept.pop()
    return kept


def report(
    ran: dict[str, str],
    beside: dict[str, str],
    previous: str = "",
    split_rows: dict[str, str] | None = None,
) -> list[str]:
    lines = [
        "## One bot, one pace: every limiter shape (issue 10)",
        "",
        f"{ASN:,} ASN, one post, against the Telegram emulator in its own process (fresh per "
        "run) whose limit is 30 sends/s counted in the named *shape* — an assumption, since "
        "Telegram does not publish its limiter (`../shared/channels.md`): `sliding` = at most "
        "30 in any one second (the strictest), `bucket` = a token bucket of 30, `fixed` = 30 per "
        "clock second; the *penalty* says what sending during a flood wait does (`growing`: "
        "each such send adds 1 s; `none`: nothing); 1 message/s per chat (bucket of 3) "
        "everywhere. `gaung worker` runs in its own process with `GAUNG_TELEGRAM_RATE=30` (the "
        "ceiling; paid: 1000 with `GAUNG_TELEGRAM_PAID_BROADCAST=true`), started once the post "
        "is approved (`wall`, approval to the last send recorded, counts its start-up) or, in "
        "the row *running at approval*, up and idle before it (approved once its first "
        "heartbeat is in, as in operation), on PostgreSQL with durable defaults (fsync "
        "and synchronous commit on). `rate after 10 s`: accepted sends per second from 10 s "
        "after the first to the last, from the emulator's log; `429`: share of send requests. "
        f"Targets: rate ≥ {RATE_TARGET} × 30 = {RATE_TARGET * LIMIT:.1f}/s, 429s ≤ "
        f"{LIMITED_TARGET} %, none lost, none duplicated; paid 1,000/s within "
        f"{PAID_TARGET:.0f} s. `python -m bench pace` (`bench/pace.py`); the `BENCH_PACE_*` "
        "settings at the top of that file run a subset, which replaces only the rows it ran: "
        "each row names the commit and the time (UTC) it measured, and the footer below the "
        "section names only the last run.",
        "",
        *markdown_table(COLUMNS, ran, kept_rows(previous, COLUMNS)),
        "",
        "The python-telegram-bot peers (each in a process of its own, against a fresh emulator "
        "with `ASN` people) get the same text and keyboard, a 64-connection pool, and "
        "`asyncio.gather` over every chat; on a `RetryAfter` that reaches them they sleep "
        "`retry_after` and try again. A peer still going after 1.5 × its rate-implied time + "
        "30 s is stopped (`lost` then counts the chats still waiting).",
    ]
    kept_splits = kept_rows(previous, SPLIT_COLUMNS)
    if kept_splits or split_rows:
        lines += [
            "",
            "Where the paid runs' time went (the emulator's log and the rows' `sent_at`; CPU "
            "of the worker and the emulator processes over the run, per send accepted, the "
            "worker's start-up included in the row that starts it at the approval): the "
            "target leaves 10 − 8,000 / 960 = 1.7 s for the start, any shortfall of the pace "
            "(`db/delivery/pace.py` CAP: 960/s) and the last outcome.",
            "",
            *markdown_table(SPLIT_COLUMNS, split_rows or {}, kept_splits),
        ]
    serve_rows = kept_rows(previous, SERVE_COLUMNS) | beside
    if serve_rows:
        lines += [
            "",
            f"Beside a live `gaung serve`: ASN write `/status` at {WRITES:.0f}/s and tap Like "
            f"at {TAPS:.0f}/s from the start until `beside` + 10 s after the broadcast's first "
            "message; the broadcast then ends alone. `gaung serve` (no `--worker`) and "
            "one `gaung worker` share the budget; every `sendMessage`/`editMessage*` counted "
            "from the emulator's log. Rates over the stretch from 10 s after the first message "
            "until the writing stopped (`beside`). Targets: at most 30 in any second, 429s ≤ "
            f"{LIMITED_TARGET} %, everything sent (broadcast, replies, redraws) ≥ {RATE_TARGET} "
            f'× 30 (the issue\'s figure for a broadcast alone, "the same" beside `gaung serve`), '
            f"every message answered, p95 ≤ {REPLY_TARGET:.0f} s. `broadcast ÷ (pace − …)`: "
            "the share of what the replies and redraws leave of the pace the ledger aims at "
            "(96 % of 30) that the broadcast got (the pacer's priority rule; 1 is all of it).",
            "",
            *markdown_table(SERVE_COLUMNS, beside, kept_rows(previous, SERVE_COLUMNS)),
        ]
    history = kept_history(previous)
    return lines + (["", *history] if history else [])


if __name__ == "__main__":  # one python-telegram-bot peer: python -m bench.pace API RETRIES
    logging.getLogger("telegram").setLevel(logging.CRITICAL)  # every 429 with a traceback
    spent, done, _ = asyncio.run(
        ptb_broadcast(
            sys.argv[1],
            count=PTB_ASN,
            cap=PTB_CAP,
            max_retries=int(sys.argv[2]),
            pool=64,
            url="https://www.instagram.com/p/pace-ptb/",
        )
    )
    print(json.dumps({"wall": spent, "finished": done}), flush=True)
