"""Issue 4's figure: button taps through the webhook.

Target: at least 1,000 updates/s sustained on this 2-core machine (SQLite and PostgreSQL), the
webhook's HTTP answer under 100 ms at p99, every tap durably recorded exactly once before it is
acknowledged.

8,000 registered ASN each get one delivery of one approved post, marked sent (in bulk, as if
the broadcast had run: the messages are not in the emulator, so the buttons' redraws, paced at
30/s behind the taps, answer 400 there). ``gaung serve`` runs in its own process against the
Telegram emulator (its own process too); this process is the load generator (raw keep-alive
HTTP/1.1 connections, as in ``bench.participation_api``, since an httpx pool costs more CPU
than the server). Taps pick a random delivery and kind, so some (delivery, kind) pairs are
tapped again under a new update_id, and 5 % of requests resend an earlier update verbatim (a
Telegram redelivery).

Two phases per engine: closed loop (``CLIENTS`` connections, each sending its next update as
soon as the previous is answered: the maximum throughput, judged on throughput only, since its
latency is by construction the 128 requests queued behind one another), then open loop at
``RATE``/s for ``SECONDS`` over at most 100 connections, as Telegram would send (latency
measured from each request's scheduled time, so waiting for a connection counts; judged on
rate and p99). Right after each phase, before anything
else happens, the database is checked: inbox rows = distinct update_ids answered 200, every one
of them present, none unhandled, and confirmations = distinct (delivery, kind) among the taps
sent — so every tap was recorded by the time it was answered.

Durability before the ack is also by construction: the webhook's answer (and the
``answerCallbackQuery`` riding in it) is sent only after the commit of the transaction that
stored the update and recorded the tap (``bot.inbox.InboxWriter``).
``GAUNG_BENCH_ENGINES``, ``GAUNG_BENCH_WEBHOOK_SECONDS``, ``GAUNG_BENCH_WEBHOOK_RATE`` tune it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from bench.databases import approve_for_everyone, emulated_roster, fresh_databases
from bench.http import KeepAlive
from bot.emulators.telegram.runner import EmulatorProcess
from db.engine import make_engine, session_scope
from db.models import (
    ButtonRefresh,
    ChatIdentity,
    Confirmation,
    Delivery,
    DeliveryStatus,
    ProcessedUpdate,
    table,
)
from db.types import utcnow
from tests.pg import free_port

ASN = 8000
TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-webhook-secret-long-enough-0123"
CLIENTS = 128
TELEGRAM_CONNECTIONS = 100  # what ``gaung serve`` asks of Telegram (the most it allows)
CLOSED_SECONDS = 10.0
SECONDS = float(os.environ.get("GAUNG_BENCH_WEBHOOK_SECONDS", "30"))
RATE = float(os.environ.get("GAUNG_BENCH_WEBHOOK_RATE", "1000"))
DUPLICATES = 0.05
TARGET_RATE = 1000.0
TARGET_P99_MS = 100.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- seeding ----------------------------------------------------------------------------------


def seed(url: str) -> tuple[float, list[tuple[int, int]]]:
    """8,000 ASN linked to emulator users, one sent delivery each: (seconds, [(delivery, uid)])."""
    began = time.perf_counter()
    engine = make_engine(url)
    emulated_roster(engine, ASN, seed=4)
    _, queued = approve_for_everyone(
        engine, "https://www.instagram.com/p/gaungwebhookbench/", "Jangan lupa like dan bagikan."
    )
    assert queued == ASN, queued
    delivery, identity = table(Delivery), table(ChatIdentity)
    with session_scope(engine) as session:
        # As if the broadcast had run: every delivery sent, message 1 in the ASN's chat.
        session.connection().execute(
            update(delivery).values(
                status=DeliveryStatus.SENT.value, message_id="1", sent_at=utcnow(), attempts=1
            )
        )
        pairs = [
            (int(d), int(u))
            for d, u in session.connection().execute(
                select(delivery.c.id, identity.c.external_id).join(
                    identity, identity.c.id == delivery.c.identity_id
                )
            )
        ]
    engine.dispose()
    assert len(pairs) == ASN, len(pairs)
    return time.perf_counter() - began, pairs


# --- the server -------------------------------------------------------------------------------


def serve(url: str, emulator: EmulatorProcess, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = os.environ | {
        "GAUNG_DATABASE_URL": url,
        "GAUNG_TELEGRAM_TOKEN": TOKEN,
        "GAUNG_TELEGRAM_API_URL": emulator.url,
        "GAUNG_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "GAUNG_SECRET_KEY": "bench-dashboard-secret-key-0123456789abcdef",
        "GAUNG_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    log = (folder / "serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=folder,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("gaung serve did not start: " + (folder / "serve.log").read_text()[-2000:])


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Taps:
    """The updates to send: new taps, and now and then a redelivery of an earlier one."""

    pairs: list[tuple[int, int]]
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    next_id: int = 1_000_000
    sent: list[tuple[int, int, str, bytes]] = field(default_factory=list)

    def next(self) -> tuple[int, int, str, bytes]:
        if self.sent and self.rng.random() < DUPLICATES:
            return self.sent[self.rng.randrange(len(self.sent))]
        self.next_id += 1
        delivery, uid = self.pairs[self.rng.randrange(len(self.pairs))]
        kind = self.rng.choice("ls")
        body = {
            "update_id": self.next_id,
            "callback_query": {
                "id": f"q{self.next_id}",
                "from": {"id": uid, "is_bot": False, "first_name": "ASN"},
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": uid, "type": "private"},
                    "text": "Jangan lupa like dan bagikan.",
                },
                "chat_instance": "1",
                "data": f"g1:{delivery}:{kind}",
            },
        }
        item = (self.next_id, delivery, kind, json.dumps(body).encode())
        self.sent.append(item)
        return item


class Connection(KeepAlive):
    """Telegram's side of the webhook: one of its connections to ``gaung serve``."""

    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port)
        self.head = (
            f"POST /webhook/telegram HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
        )

    async def post(self, body: bytes) -> int:
        return await self.send(f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # status or exception name
    answered: list[tuple[int, int, str]] = field(default_factory=list)  # 200s
    reconnects: int = 0  # kept-alive connections the server had closed for idleness

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def _send(
    connection: Connection, item: tuple[int, int, str, bytes], phase: Phase, began: float
) -> None:
    update_id, delivery, kind, body = item
    reconnects = connection.reconnects
    try:
        async with asyncio.timeout(30):
            status = await connection.post(body)
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
        status = 0
        phase.failures[type(exc).__name__] += 1
        connection.close()
    phase.latencies.append((time.perf_counter() - began) * 1000)
    phase.reconnects += connection.reconnects - reconnects
    if status == 200:
        phase.answered.append((update_id, delivery, kind))
    elif status:
        phase.failures[str(status)] += 1


async def closed_loop(port: int, taps: Taps, seconds: float) -> Phase:
    phase = Phase(f"closed loop, {CLIENTS} connections")
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        connection = Connection(port)
        try:
            while time.perf_counter() < deadline:
                await _send(connection, taps.next(), phase, time.perf_counter())
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    phase.seconds = time.perf_counter() - began
    return phase


async def open_loop(port: int, taps: Taps, rate: float, seconds: float) -> Phase:
    """Requests scheduled every 1/rate s over at most ``TELEGRAM_CONNECTIONS`` connections, as
    Telegram sends; latency counted from the scheduled moment, so waiting for a free
    connection counts too."""
    phase = Phase(f"open loop at {rate:,.0f}/s, ≤ {TELEGRAM_CONNECTIONS} connections")
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(TELEGRAM_CONNECTIONS):
        idle.put_nowait(Connection(port))
    pending: set[asyncio.Task[None]] = set()
    total = int(rate * seconds)

    async def one(item: tuple[int, int, str, bytes], scheduled: float) -> None:
        connection = await idle.get()
        try:
            await _send(connection, item, phase, scheduled)
        finally:
            idle.put_nowait(connection)

    began = time.perf_counter()
    for i in range(total):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(taps.next(), scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    phase.seconds = time.perf_counter() - began
    while not idle.empty():
        idle.get_nowait().close()
    return phase


def _errors(phase: Phase) -> str:
    kinds = ", ".join(f"{n} × {kind}" for kind, n in phase.failures.most_common())
    told = f"{phase.errors} ({kinds})" if kinds else "0"
    return f"{told}; {phase.reconnects} reconnects" if phase.reconnects else told


# --- checking ---------------------------------------------------------------------------------


def check(
    url: str, answered: list[tuple[int, int, str]], sent: list[tuple[int, int, str, bytes]]
) -> dict[str, Any]:
    """Exactly once: every update answered 200 is in the inbox, the inbox holds only updates
    sent (a request the client gave up on may still have been stored: Telegram would resend
    it), none waits to be handled, and each distinct (delivery, kind) among stored taps has
    exactly one confirmation."""
    engine = make_engine(url)
    inbox, confirmation = table(ProcessedUpdate), table(Confirmation)
    with engine.connect() as conn:
        stored = {
            int(u)
            for (u,) in conn.execute(select(inbox.c.update_id).where(inbox.c.channel == "telegram"))
        }
        waiting = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.handled_at.is_(None))
        ).scalar_one()
        confirmations = {
            (int(d), k)
            for d, k in conn.execute(select(confirmation.c.delivery_id, confirmation.c.kind))
        }
        redraws = conn.execute(select(func.count()).select_from(table(ButtonRefresh))).scalar_one()
    engine.dispose()
    ids = {u for u, _, _ in answered}
    sent_ids = {u for u, _, _, _ in sent}
    taps = {(d, "like" if k == "l" else "share") for u, d, k, _ in sent if u in stored}
    return {
        "answered": len(answered),
        "distinct_updates": len(ids),
        "inbox_rows": len(stored),
        "acked_missing": len(ids - stored),
        "unknown_stored": len(stored - sent_ids),
        "unhandled": waiting,
        "distinct_taps": len(taps),
        "confirmations": len(confirmations),
        "redraws_queued": redraws,
        "ok": ids <= stored <= sent_ids and taps == confirmations and waiting == 0,
    }


# --- the run ----------------------------------------------------------------------------------


def engine_run(name: str, url: str, folder: Path) -> list[str]:
    seconds, pairs = seed(url)
    print(f"{name}: seeded {ASN} ASN + deliveries in {seconds:.1f} s", flush=True)
    emulator = EmulatorProcess(token=TOKEN)
    server, port = serve(url, emulator, folder)
    taps = Taps(pairs)
    rows = []
    try:
        answered: list[tuple[int, int, str]] = []
        for open_rate in (None, RATE):
            if open_rate is None:
                phase = asyncio.run(closed_loop(port, taps, CLOSED_SECONDS))
            else:
                phase = asyncio.run(open_loop(port, taps, open_rate, SECONDS))
            answered += phase.answered
            result = check(url, answered, taps.sent)  # at once: recorded by the time acked
            p99 = _pct(phase.latencies, 0.99)
            fast = open_rate is None or p99 < TARGET_P99_MS
            met = phase.rate >= TARGET_RATE * 0.99 and fast and phase.errors == 0 and result["ok"]
            rows.append(
                f"| {name} | {phase.name} | {len(phase.latencies):,} | {phase.rate:,.0f}/s | "
                f"{_pct(phase.latencies, 0.5):.1f} ms | {_pct(phase.latencies, 0.95):.1f} ms | "
                f"{p99:.1f} ms | {_errors(phase)} | "
                f"{result['inbox_rows']:,} / {result['distinct_updates']:,} "
                f"({result['acked_missing']} acked, missing; {result['unhandled']} unhandled) | "
                f"{result['confirmations']:,} / {result['distinct_taps']:,} | "
                f"{result['redraws_queued']:,} | {'yes' if result['ok'] else 'NO'} | "
                f"{'yes' if met else 'NO'} ({'rate' if open_rate is None else 'rate, p99'}) |"
            )
            print(rows[-1], result, flush=True)
    finally:
        stop(server)
        emulator.close()
    return rows


def run() -> list[str]:
    engines = tuple(
        os.environ.get("GAUNG_BENCH_ENGINES", "sqlite,postgresql").replace(" ", "").split(",")
    )
    folder = Path(tempfile.mkdtemp(prefix="gaung-webhook-"))
    lines = [
        "## Button taps through the webhook (issue 4)",
        "",
        f"{ASN:,} registered ASN, one sent delivery each; `gaung serve` (one uvicorn worker) "
        "against the Telegram emulator in its own process, loaded from a third process over "
        "keep-alive HTTP/1.1 on loopback, all on the same 2-core machine. Taps are random "
        f"(delivery, Like/Share) pairs; {DUPLICATES:.0%} of requests resend an earlier update "
        "verbatim. Latency is the webhook's HTTP answer (open loop: from the scheduled send "
        "time). "
        "Checks right after each phase (cumulative): inbox rows / distinct update_ids "
        "answered 200 (a request the client timed out on, after 30 s, may be stored but not "
        "acked; every acked one must be present) and none left unhandled; confirmations / "
        "distinct (delivery, kind) taps among stored updates; button redraws still queued "
        "(drawn behind the taps at the bot's 30 edits/s; here they answer 400, the messages "
        "not being in the emulator). A tap is recorded in the same transaction that stores "
        "its update, and answered (`answerCallbackQuery` in the webhook's response) only after "
        "that commit. Target: ≥ 1,000 updates/s, p99 < 100 ms, exactly once; the closed loop "
        "(128 requests always outstanding) is judged on throughput, the open loop on rate and "
        "p99.",
        "",
        "| engine | phase | requests | throughput | p50 | p95 | p99 | errors | "
        "inbox / updates | confirmations / taps | redraws queued | exactly once | target met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    with fresh_databases(engines) as urls:
        for name, url in urls.items():
            lines += engine_run(name, url, folder)
    return lines
