"""Issue 12's fault runs: one table, each row a run with faults injected into real processes.

Every row runs real children of the benchmark: the Telegram emulator
(``python -m bot.emulators.telegram``, a fresh one per row, so that its log of accepted sends
per chat counts this row's messages only), ``gaung worker`` and, for the tap rows,
``gaung serve``. PostgreSQL is a durable cluster of the benchmark's own (fsync, synchronous
commit and full-page writes on), since rows (e) and (f) stop it (``pg_ctl -m immediate``: a
crash, not a clean shutdown) and start it again under running processes.

Rows (each broadcast is one approved post to every ASN, paid rate 1,000/s unless said):
(a) 5xx bursts, (b) slow answers and timeouts (answers later than the worker's 15 s HTTP
timeout: the message is delivered but the worker does not know), (c) dropped connections
(before the send) and lost answers (after it), (d) a 429 storm with a long ``retry_after``: each
a window of time during which every ``sendMessage`` meets the fault; (e) PostgreSQL stopped and
restarted mid-broadcast under two ``gaung worker`` processes, which must carry on by
themselves; (f) PostgreSQL stopped and restarted mid-tap-storm through ``gaung serve``'s
webhook, the generator redelivering every update not answered 200 as Telegram does (growing
delays); (g) every ASN tapping within ``TAP_SECONDS`` through the webhook (Like, 40 % Share too,
5 % of updates resent verbatim) while ``gaung worker`` broadcasts another post.

Figures per row: deliveries of the row's post and how they ended in the database (sent,
skipped, failed with the reason recorded); lost = chats without the message on the emulator;
duplicated = messages beyond one per chat on the emulator, to be at most the sends that were
in flight at the fault (sends whose outcome the worker could not learn or record: the slow or
lost answers the emulator counted, or for (e) messages on Telegram minus sends recorded when
PostgreSQL stopped); taps: distinct taps sent vs confirmations recorded, every update acked
with 200 present in the inbox, and the participation counters equal to the facts.

``GAUNG_BENCH_FAULTS_SIZE=quick`` runs the same rows small (about a minute or two on this
machine; (f) and (g) alone about three); the default is the full size (8,000 ASN).
``GAUNG_BENCH_FAULTS_ROWS=fg`` runs only those rows: the section keeps the rows it did not run
as they were, each naming the commit, size and time it measured. The tap generator resends
like Telegram until ``GAUNG_BENCH_FAULTS_GIVE_UP`` seconds (default 1800) after an update's
first try; a tap given up on fails its row, since Telegram would still be resending it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from bench import databases
from bench.broadcast import Worker
from bench.databases import approve_for_everyone, as_if_sent, counters_and_facts, emulated_roster
from bench.server import serve as start_serve
from bench.server import stop as stop_serve
from bot.emulators.telegram.runner import EmulatorProcess
from bot.emulators.telegram.world import FIRST_USER_ID
from db.delivery.counters import rebuild
from db.engine import make_engine, session_scope
from db.models import (
    ChatIdentity,
    Confirmation,
    Delivery,
    DeliveryStatus,
    ProcessedUpdate,
    table,
)
from tests.pg import Cluster, start_cluster

QUICK = os.environ.get("GAUNG_BENCH_FAULTS_SIZE", "full") == "quick"
ASN = 400 if QUICK else 8000
WINDOW = 6.0 if QUICK else 12.0  # s each channel fault lasts
RETRY_AFTER = 5 if QUICK else 20  # s: the 429 storm's flood wait
DOWN = 4.0 if QUICK else 10.0  # s PostgreSQL stays down
TAP_SECONDS = 8.0 if QUICK else 60.0
STORM_SECONDS = 10.0 if QUICK else 30.0  # (f): taps at STORM_RATE for this long
STORM_RATE = 50.0 if QUICK else 200.0
PAID = 1000
TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-faults-webhook-secret-0123456789"
HTTP_TIMEOUT = 15.0  # the worker's Bot API timeout (bot.channels.telegram)
ALL_ROWS = "abcdefg"
# A subset (``fg``): the other rows of the section are kept as they were, each with its commit.
ROWS = os.environ.get("GAUNG_BENCH_FAULTS_ROWS", ALL_ROWS)
# s after an update's first try that the generator stops resending it. Telegram keeps retrying
# an update its webhook has not acknowledged (for hours), so the bound is long: an update given
# up on is a tap the webhook did not take in that time, and the row is not met.
GIVE_UP = float(os.environ.get("GAUNG_BENCH_FAULTS_GIVE_UP", "1800"))
RESEND_CAP = 8.0  # s: the longest pause between two tries of one update
_posts = iter(range(1, 1000))


# --- a row ------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str  # begins "(x)", x the row's letter in ``ALL_ROWS``
    injected: str = ""
    deliveries: int = 0
    ended: Counter[str] = field(default_factory=Counter)  # sent / skipped / failed / pending
    reasons: Counter[str] = field(default_factory=Counter)  # failed: the recorded error
    lost: int | None = None
    duplicated: int | None = None
    in_flight: int | None = None
    taps_sent: int | None = None
    taps_recorded: int | None = None
    acked_missing: int | None = None
    counters_wrong: int | None = None
    unhandled: int | None = None
    twice: int | None = None  # confirmations beyond one per (delivery, kind)
    made_up: int | None = None  # confirmations of taps nobody sent
    gave_up: int | None = None  # updates the generator stopped resending (after GIVE_UP s)
    wall: float = 0.0
    notes: list[str] = field(default_factory=list)

    def misses(self) -> list[str]:
        found = []
        if self.lost:
            found.append("lost")
        if self.duplicated and self.duplicated > (self.in_flight or 0):
            found.append("duplicates")
        if self.deliveries and sum(self.ended[s] for s in FINAL) < self.deliveries:
            found.append("unfinished")
        if self.taps_sent is not None and self.taps_sent != self.taps_recorded:
            found.append("taps not recorded")
        if self.gave_up:
            found.append(f"taps given up after {GIVE_UP:.0f} s")
        if self.twice:
            found.append("taps recorded twice")
        if self.made_up:
            found.append("confirmations never tapped")
        if self.acked_missing:
            found.append("acknowledged taps lost")
        if self.counters_wrong:
            found.append("counters")
        if self.unhandled:
            found.append("unhandled updates")
        return found


def approve(engine: Engine) -> int:
    link = f"https://www.instagram.com/p/gaungfaults{next(_posts)}{int(time.time())}/"
    post_id, queued = approve_for_everyone(engine, link, "Jangan lupa like dan bagikan.")
    assert queued == ASN, queued
    return post_id


def outcome(engine: Engine, post_id: int) -> tuple[Counter[str], Counter[str]]:
    """How the post's deliveries stand: by status, and failures by their recorded reason."""
    delivery = table(Delivery)
    with engine.connect() as conn:
        rows = conn.execute(
            select(delivery.c.status, delivery.c.error, func.count())
            .where(delivery.c.post_id == post_id)
            .group_by(delivery.c.status, delivery.c.error)
        ).all()
    ended: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for status, error, n in rows:
        ended[str(status)] += int(n)
        if status == DeliveryStatus.FAILED.value:
            reasons[str(error or "?")[:60]] += int(n)
    return ended, reasons


def sent_count(engine: Engine, post_id: int) -> int:
    try:
        return outcome(engine, post_id)[0].get(DeliveryStatus.SENT.value, 0)
    except Exception:  # the database may be away right now
        return -1


FINAL = (DeliveryStatus.SENT.value, DeliveryStatus.SKIPPED.value, DeliveryStatus.FAILED.value)


def wait_done(engine: Engine, post_id: int, timeout: float) -> None:
    """Until every delivery of the post is sent, skipped or failed (pending/sending: not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ended, _ = outcome(engine, post_id)
            if sum(ended[s] for s in FINAL) == ASN:
                return
        except Exception:  # the database may be restarting
            ended = Counter()
        if time.monotonic() > deadline:
            return  # the row reports what stayed pending
        time.sleep(0.2)


def wait_sent(engine: Engine, post_id: int, at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sent_count(engine, post_id) < at_least:
        if time.monotonic() > deadline:
            raise TimeoutError(f"post {post_id}: fewer than {at_least} sent in {timeout:.0f} s")
        time.sleep(0.05)


def new_emulator() -> EmulatorProcess:
    emulator = EmulatorProcess(token=TOKEN, local=True)
    users = emulator.op("add_users", count=ASN)
    assert users == list(range(FIRST_USER_ID, FIRST_USER_ID + ASN)), "emulator ids moved"
    return emulator


def on_telegram(emulator: EmulatorProcess, row: Row) -> None:
    counts: dict[str, int] = emulator.op("delivered_counts")
    per_chat = [counts.get(str(FIRST_USER_ID + n), 0) for n in range(ASN)]
    row.lost = sum(1 for n in per_chat if n == 0)
    row.duplicated = sum(n - 1 for n in per_chat if n > 1)


def finish(engine: Engine, post_id: int, row: Row) -> None:
    row.deliveries = ASN
    row.ended, row.reasons = outcome(engine, post_id)


WORKER_ENV = {
    "GAUNG_TELEGRAM_RATE": str(PAID),
    "GAUNG_TELEGRAM_PAID_BROADCAST": "true",
}


# --- (a)-(d): channel faults ------------------------------------------------------------------


def windows(*faults: dict[str, Any]) -> Callable[[EmulatorProcess], str]:
    """Each fault in turn for ``WINDOW`` seconds (every sendMessage meets it), then cleared."""

    def inject(emulator: EmulatorProcess) -> str:
        for fault in faults:
            emulator.op("inject_fault", count=10**9, methods=["sendMessage"], **fault)
            time.sleep(WINDOW)
            emulator.op("clear_faults")
            time.sleep(1.0)
        taken: dict[str, int] = emulator.op("stats")["faults_taken"]
        return ", ".join(f"{kind} × {n}" for kind, n in sorted(taken.items())) or "none taken"

    return inject


def channel_row(
    url: str, folder: Path, label: str, inject: Callable[[EmulatorProcess], str]
) -> Row:
    row = Row(label)
    emulator = new_emulator()
    engine = make_engine(url)
    worker = None
    try:
        post_id = approve(engine)
        began = time.perf_counter()
        worker = Worker(url, emulator, folder, **WORKER_ENV)  # type: ignore[arg-type]
        wait_sent(engine, post_id, ASN // 4, timeout=120)
        row.injected = f"{inject(emulator)} (each {WINDOW:.0f} s, at {ASN // 4:,} sent)"
        wait_done(engine, post_id, timeout=600)
        row.wall = time.perf_counter() - began
        taken: dict[str, int] = emulator.op("stats")["faults_taken"]
        # Sends that may have reached the chat without the worker learning so: those answered
        # past the worker's timeout or never (the answer lost). A 5xx, a 429 or a dropped connection
        # before the send delivers nothing.
        late = sum(
            n
            for kind, n in taken.items()
            if kind.startswith("slow ") and float(kind.split()[1]) >= HTTP_TIMEOUT
        )
        row.in_flight = late + taken.get("lost", 0)
        if worker.process.poll() is not None:
            row.notes.append(f"worker exited ({worker.process.returncode})")
        finish(engine, post_id, row)
        on_telegram(emulator, row)
    except BaseException:
        if worker is not None:
            print(worker.tail(), file=sys.stderr)
        raise
    finally:
        if worker is not None:
            worker.stop()
        engine.dispose()
        emulator.close()
    return row


# --- (e): PostgreSQL away mid-broadcast -------------------------------------------------------


def database_row(url: str, cluster: Cluster, folder: Path) -> Row:
    row = Row("(e) PostgreSQL crash-stopped and restarted mid-broadcast, 2 × `gaung worker`")
    emulator = new_emulator()
    engine = make_engine(url)
    workers: list[Worker] = []
    try:
        post_id = approve(engine)
        began = time.perf_counter()
        workers = [Worker(url, emulator, folder, **WORKER_ENV) for _ in range(2)]  # type: ignore[arg-type]
        wait_sent(engine, post_id, ASN // 3, timeout=120)
        recorded_before = sent_count(engine, post_id)
        cluster.crash()
        stopped = time.perf_counter()
        time.sleep(DOWN)
        messages = int(emulator.op("stats")["messages"])
        cluster.restart(durable=True)
        row.in_flight = messages - recorded_before
        row.injected = (
            f"`pg_ctl -m immediate stop` at {recorded_before:,} recorded sent, "
            f"started again {time.perf_counter() - stopped:.1f} s later"
        )
        engine.dispose()  # its pooled connections died with the server
        wait_done(engine, post_id, timeout=600)
        row.wall = time.perf_counter() - began
        alive = sum(1 for w in workers if w.process.poll() is None)
        row.notes.append(f"workers alive after: {alive} of {len(workers)}")
        finish(engine, post_id, row)
        on_telegram(emulator, row)
    except BaseException:
        for w in workers:
            print(w.tail(), file=sys.stderr)
        raise
    finally:
        for w in workers:
            w.stop()
        engine.dispose()
        emulator.close()
    return row


# --- taps through the webhook -----------------------------------------------------------------


def serve(url: str, emulator: EmulatorProcess, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``gaung serve`` on the bot's webhook, through the benches' one server starter."""
    return start_serve(
        {
            "GAUNG_DATABASE_URL": url,
            "GAUNG_TELEGRAM_TOKEN": TOKEN,
            "GAUNG_TELEGRAM_API_URL": emulator.url,
            "GAUNG_TELEGRAM_WEBHOOK_SECRET": SECRET,
            "GAUNG_SECRET_KEY": "bench-dashboard-secret-key-0123456789abcdef",
        },
        folder,
    )


stop = stop_serve


def sent_deliveries(engine: Engine, post_id: int) -> list[tuple[int, int, int]]:
    """(delivery, user id, message id) of the post's sent deliveries."""
    delivery, identity = table(Delivery), table(ChatIdentity)
    with engine.connect() as conn:
        return [
            (int(d), int(u), int(m))
            for d, u, m in conn.execute(
                select(delivery.c.id, identity.c.external_id, delivery.c.message_id)
                .join(identity, identity.c.id == delivery.c.identity_id)
                .where(delivery.c.post_id == post_id)
                .where(delivery.c.status == DeliveryStatus.SENT.value)
            )
        ]


def mark_all_sent(engine: Engine, post_id: int) -> None:
    """As if the post's broadcast had run (message id 1 000 000: redraws answer 400)."""
    as_if_sent(engine, post_id, message_id="1000000")


@dataclass
class Storm:
    """Updates to send: (update id, delivery, kind, body); each redelivered until acked."""

    items: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)  # answered 200: Telegram's acknowledgement
    # Answered 200 with the tap's answerCallbackQuery in the body: the user was told "noted".
    told: set[int] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)  # every answer, redeliveries too
    redeliveries: int = 0
    gave_up: int = 0
    latencies: list[float] = field(default_factory=list)  # s, each request


def tap_body(update_id: int, delivery: int, uid: int, message_id: int, kind: str) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "callback_query": {
                "id": f"q{update_id}",
                "from": {"id": uid, "is_bot": False, "first_name": "ASN"},
                "message": {
                    "message_id": message_id,
                    "date": 0,
                    "chat": {"id": uid, "type": "private"},
                    "text": "Jangan lupa like dan bagikan.",
                },
                "chat_instance": "1",
                "data": f"g1:{delivery}:{kind[0]}",
            },
        }
    ).encode()


async def _deliver(port: int, storm: Storm, schedule: list[tuple[float, int]]) -> None:
    """Send each item at its scheduled offset; anything not answered 200 is sent again after
    1, 2, 4 … (at most ``RESEND_CAP``) s, as Telegram redelivers, until acked or ``GIVE_UP`` s
    after its first try."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30.0
    ) as client:
        # At most as many requests at once as Telegram opens connections: httpx's pool
        # assigns waiting requests in quadratic time, and thousands queued in it stall the
        # generator itself.
        gate = asyncio.Semaphore(100)

        async def one(offset: float, index: int, began: float) -> None:
            update_id, _, _, body = storm.items[index]
            await asyncio.sleep(max(0.0, began + offset - time.perf_counter()))
            delay = 1.0
            give_up = time.perf_counter() + GIVE_UP
            while True:
                sent = time.perf_counter()
                async with gate:  # waiting for a connection counts in the latency
                    try:
                        response = await client.post(
                            "/webhook/telegram", content=body, headers=headers
                        )
                        status = str(response.status_code)
                        if status == "200" and b"answerCallbackQuery" in response.content:
                            storm.told.add(update_id)
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    storm.latencies.append(time.perf_counter() - sent)
                storm.statuses[status] += 1
                if status == "200":
                    storm.acked.add(update_id)
                    return
                if time.perf_counter() > give_up:
                    storm.gave_up += 1
                    return
                storm.redeliveries += 1
                await asyncio.sleep(delay)
                delay = min(RESEND_CAP, delay * 2)

        began = time.perf_counter()
        await asyncio.gather(*(one(offset, index, began) for offset, index in schedule))


def check_taps(engine: Engine, storm: Storm, row: Row) -> None:
    inbox, confirmation = table(ProcessedUpdate), table(Confirmation)
    with engine.connect() as conn:
        stored = {
            int(u)
            for (u,) in conn.execute(select(inbox.c.update_id).where(inbox.c.channel == "telegram"))
        }
        row.unhandled = int(
            conn.execute(
                select(func.count()).select_from(inbox).where(inbox.c.handled_at.is_(None))
            ).scalar_one()
        )
        recorded = Counter(
            {
                (int(d), str(k)): int(n)
                for d, k, n in conn.execute(
                    select(confirmation.c.delivery_id, confirmation.c.kind, func.count()).group_by(
                        confirmation.c.delivery_id, confirmation.c.kind
                    )
                )
            }
        )
        counters, facts = counters_and_facts(conn)
    taps = {(d, k) for _, d, k, _ in storm.items}
    row.taps_sent = len(taps)
    row.taps_recorded = len(recorded.keys() & taps)
    row.made_up = len(recorded.keys() - taps)
    row.twice = sum(n - 1 for n in recorded.values())
    row.gave_up = storm.gave_up
    # Lost after an acknowledgement: an update answered 200 (Telegram stops resending it) that
    # is not in the inbox, or a tap whose answer told the user it was noted, not recorded.
    told = {(d, k) for u, d, k, _ in storm.items if u in storm.told}
    row.acked_missing = len(storm.acked - stored) + len(told - recorded.keys())
    row.counters_wrong = sum(
        1 for k in counters.keys() | facts.keys() if counters.get(k) != facts.get(k)
    )
    answers = ", ".join(f"{n:,} × `{s}`" for s, n in storm.statuses.most_common())
    ordered = sorted(storm.latencies) or [float("nan")]
    p50, p99 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in (0.5, 0.99))
    row.notes.append(
        f"webhook answers {answers} (p50 {p50:.0f} ms, p99 {p99:.0f} ms); "
        f"{storm.redeliveries:,} redeliveries; {len(storm.told):,} taps answered to the user"
        + (f"; {storm.gave_up} given up after {GIVE_UP:.0f} s" if storm.gave_up else "")
    )


def clear_taps(engine: Engine) -> None:
    """Each tap row starts with no confirmations, so that its counts are its own."""
    with session_scope(engine) as session:
        session.connection().execute(table(Confirmation).delete())
        rebuild(session)


def storm_row(url: str, cluster: Cluster, folder: Path) -> Row:
    row = Row("(f) PostgreSQL crash-stopped and restarted mid-tap-storm through `gaung serve`")
    emulator = new_emulator()
    engine = make_engine(url)
    server = None
    try:
        clear_taps(engine)
        post_id = approve(engine)
        mark_all_sent(engine, post_id)
        targets = sent_deliveries(engine, post_id)
        server, port = serve(url, emulator, folder)
        rng = random.Random(12)
        storm = Storm()
        total = int(STORM_RATE * STORM_SECONDS)
        for n in range(total):
            d, uid, message = targets[rng.randrange(len(targets))]
            kind = rng.choice(("like", "share"))
            storm.items.append(
                (2_000_000 + n, d, kind, tap_body(2_000_000 + n, d, uid, message, kind))
            )
        schedule = [(n / STORM_RATE, n) for n in range(total)]

        def outage() -> str:
            time.sleep(STORM_SECONDS / 3)
            cluster.crash()
            time.sleep(DOWN)
            cluster.restart(durable=True)
            into = STORM_SECONDS / 3
            return f"`pg_ctl -m immediate stop` {into:.0f} s into the storm, down {DOWN:.0f} s"

        began = time.perf_counter()

        async def both() -> str:
            told = asyncio.create_task(asyncio.to_thread(outage))
            await _deliver(port, storm, schedule)
            return await told

        said = asyncio.run(both())
        row.wall = time.perf_counter() - began
        row.injected = f"{said}; {total:,} taps at {STORM_RATE:.0f}/s"
        engine.dispose()
        time.sleep(2.0)  # the inbox handles what it stored
        check_taps(engine, storm, row)
        alive = server.poll() is None
        row.notes.append("`gaung serve` stayed up" if alive else "`gaung serve` EXITED")
    except BaseException:
        print((folder / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if server is not None:
            stop(server)
        engine.dispose()
        emulator.close()
    return row


def crowd_row(url: str, folder: Path) -> Row:
    rate = max(1, min(PAID, round(ASN / (TAP_SECONDS * 0.8))))
    row = Row(
        f"(g) {ASN:,} ASN tapping within {TAP_SECONDS:.0f} s through the webhook "
        f"while `gaung worker` broadcasts another post ({rate}/s)"
    )
    emulator = new_emulator()
    engine = make_engine(url)
    server = worker = None
    try:
        clear_taps(engine)
        tapped = approve(engine)
        worker = Worker(url, emulator, folder, **WORKER_ENV)  # type: ignore[arg-type]
        wait_done(engine, tapped, timeout=300)  # the post they tap: really sent first
        worker.stop()
        targets = sent_deliveries(engine, tapped)
        assert len(targets) == ASN, len(targets)
        server, port = serve(url, emulator, folder)
        rng = random.Random(13)
        storm = Storm()
        schedule: list[tuple[float, int]] = []
        update_id = 3_000_000
        for d, uid, message in targets:
            offset = rng.uniform(0, TAP_SECONDS * 0.95)
            for kind in ("like", "share") if rng.random() < 0.4 else ("like",):
                update_id += 1
                storm.items.append((update_id, d, kind, tap_body(update_id, d, uid, message, kind)))
                schedule.append((offset, len(storm.items) - 1))
                offset += rng.uniform(0.2, 2.0) * (TAP_SECONDS / 60)
                if rng.random() < 0.05:  # Telegram delivers it twice
                    schedule.append((offset + 0.5, len(storm.items) - 1))
        env = dict(WORKER_ENV, GAUNG_TELEGRAM_RATE=str(rate))
        if rate <= 30:
            env["GAUNG_TELEGRAM_PAID_BROADCAST"] = "false"
        post_id = approve(engine)
        began = time.perf_counter()
        worker = Worker(url, emulator, folder, **env)  # type: ignore[arg-type]
        asyncio.run(_deliver(port, storm, schedule))
        taps_done = time.perf_counter() - began
        wait_done(engine, post_id, timeout=600)
        row.wall = time.perf_counter() - began
        resent = len(schedule) - len(storm.items)
        row.injected = (
            f"{len(storm.items):,} tap updates (+{resent} resent verbatim) in {taps_done:.0f} s"
        )
        time.sleep(2.0)
        check_taps(engine, storm, row)
        finish(engine, post_id, row)
        counts: dict[str, int] = emulator.op("delivered_counts")
        per_chat = [counts.get(str(FIRST_USER_ID + n), 0) for n in range(ASN)]
        row.lost = sum(1 for n in per_chat if n < 2)  # both posts in every chat
        row.duplicated = sum(n - 2 for n in per_chat if n > 2)
        row.in_flight = 0
    except BaseException:
        print((folder / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if worker is not None:
            worker.stop()
        if server is not None:
            stop(server)
        engine.dispose()
        emulator.close()
    return row


# --- authorisation matrix and schemathesis ----------------------------------------------------


def matrix_and_schemathesis() -> list[str]:
    from tests.api.test_authorization import CALLERS, POLICIES

    lines = [
        f"Authorisation matrix (`tests/api/test_authorization.py`): {len(POLICIES)} routes × "
        f"{len(CALLERS)} callers = {len(POLICIES) * len(CALLERS)} cells per engine, routes read "
        "from the app (a route without a policy fails the test)."
    ]
    for path, what in (
        ("tests/api/test_authorization.py", "authorisation matrix"),
        ("tests/api/test_schemathesis.py", "schemathesis"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", path, "-q", "-s", "-p", "no:cacheprovider"],
            capture_output=True,
            text=True,
            check=False,
        )
        summary = (done.stdout.strip().splitlines() or ["?"])[-1]
        found = re.findall(
            r"schemathesis: (\d+) operations, (\d+) cases, Counter\((.*?)\)", done.stdout
        )
        detail = "; ".join(
            f"{ops} operations, {cases} cases, statuses {statuses}"
            for ops, cases, statuses in found
        )
        lines.append(
            f"- {what}: `{summary.strip('= ')}`" + (f" (per engine: {detail})" if detail else "")
        )
    return lines


# --- the run and the report -------------------------------------------------------------------


def run() -> list[str]:
    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(f"signal {signum}")  # the children and the cluster are stopped on the way

    signal.signal(signal.SIGTERM, terminate)
    from bench.__main__ import _previous, revision

    code = revision()  # the code the rows measure: as it is when they start
    folder = Path(tempfile.mkdtemp(prefix="gaung-faults-"))
    cluster = start_cluster(durable=True)
    rows: list[Row] = []
    try:
        databases.servers_seen.add(databases.durability(f"{cluster.url}/postgres"))
        url = cluster.migrated("bench")
        engine = make_engine(url)
        began = time.perf_counter()
        emulated_roster(engine, ASN, seed=12)
        engine.dispose()
        print(f"roster of {ASN:,} in {time.perf_counter() - began:.1f} s", flush=True)
        plans: list[tuple[str, Callable[[EmulatorProcess], str]]] = [
            (
                "(a) 5xx bursts",
                windows({"kind": "error", "status": 500}, {"kind": "error", "status": 502}),
            ),
            (
                "(b) slow answers, then timeouts",
                windows(
                    {"kind": "slow", "delay": 3.0}, {"kind": "slow", "delay": HTTP_TIMEOUT + 5}
                ),
            ),
            (
                "(c) dropped connections, then lost answers",
                windows({"kind": "drop"}, {"kind": "lost"}),
            ),
            (
                f"(d) 429 storm, retry_after {RETRY_AFTER} s",
                windows({"kind": "error", "status": 429, "delay": float(RETRY_AFTER)}),
            ),
        ]
        runs: list[tuple[str, Callable[[], Row]]] = [
            *(
                (
                    label[1],
                    lambda label=label, inject=inject: channel_row(url, folder, label, inject),
                )
                for label, inject in plans
            ),
            ("e", lambda: database_row(url, cluster, folder)),
            ("f", lambda: storm_row(url, cluster, folder)),
            ("g", lambda: crowd_row(url, folder)),
        ]
        for letter, one in runs:
            if letter in ROWS:
                rows.append(one())
                print(rows[-1], flush=True)
    finally:
        cluster.stop()
    previous = _previous().get("faults", "")
    measured = f"`{code.commit[:12]}`{'' if code.clean else ' dirty'} {SIZE}, " + time.strftime(
        "%Y-%m-%d %H:%M", time.gmtime()
    )
    lines = merge(
        {r.label[1]: row_line(r, measured) for r in rows},
        kept_rows(previous),
    )
    tail = matrix_and_schemathesis() if set(ALL_ROWS) <= set(ROWS) else kept_tail(previous)
    return [*header(), *lines, "", *tail]


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


SIZE = "quick" if QUICK else "full"
COLUMNS = (
    "| run | injected | deliveries | sent / skipped / failed (reason) | lost | duplicated "
    "(in flight) | taps sent / recorded | acked, missing | counters = facts | wall | notes "
    "| verdict | measured |"
)
TAIL = re.compile(r"^(Authorisation matrix|- authorisation matrix|- schemathesis)")


def kept_rows(previous: str) -> dict[str, str]:
    """The table rows of the section as last written, by letter, each naming what it measured.

    Rows written before the table had a ``measured`` column get the section's own commit,
    size and date from its text."""
    commit = re.search(r"commit `([0-9a-f]+)`, (clean|DIRTY)", previous)
    size = re.search(r"Run at (full|quick) size", previous)
    stamp = re.search(r"_Measured (\S+ \S+) UTC", previous)
    measured = (
        f"`{commit.group(1) if commit else '?'}`"
        + (" dirty" if commit and commit.group(2) == "DIRTY" else "")
        + f" {size.group(1) if size else '?'}, {stamp.group(1) if stamp else '?'}"
    )
    width = COLUMNS.count("|") - 1
    kept = {}
    for line in previous.splitlines():
        if not re.match(r"^\| \([a-z]\)", line):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == width - 1:  # no measured column yet
            cells.append(measured)
        kept[cells[0][1]] = "| " + " | ".join(cells) + " |"
    return kept


def kept_tail(previous: str) -> list[str]:
    """The matrix and schemathesis lines as last written (only a full run measures them)."""
    return [line for line in previous.splitlines() if TAIL.match(line)]


def merge(ran: dict[str, str], kept: dict[str, str]) -> list[str]:
    """The table: this run's rows, and the rows it did not run as they were, in row order."""
    rows = kept | ran
    return [COLUMNS, "| --- " * (COLUMNS.count("|") - 1) + "|", *(rows[k] for k in sorted(rows))]


def row_line(r: Row, measured: str) -> str:
    failed = r.ended.get("failed", 0)
    reasons = "; ".join(f"{n} × {why}" for why, n in r.reasons.most_common(3))
    ended = (
        f"{r.ended.get('sent', 0):,} / {r.ended.get('skipped', 0):,} / {failed:,}"
        + (f" ({reasons})" if reasons else "")
        + "".join(f"; {r.ended[s]:,} still {s}" for s in ("pending", "sending") if r.ended.get(s))
    )
    duplicated = "—" if r.duplicated is None else f"{r.duplicated:,} ({_n(r.in_flight)})"
    taps = "—" if r.taps_sent is None else f"{r.taps_sent:,} / {_n(r.taps_recorded)}"
    counters = (
        "—"
        if r.counters_wrong is None
        else ("yes" if not r.counters_wrong else f"**NO** ({r.counters_wrong} rows differ)")
    )
    misses = r.misses()
    verdict = "met" if not misses else f"**NOT met** ({', '.join(misses)})"
    return (
        f"| {r.label} | {r.injected} | {_n(r.deliveries) if r.deliveries else '—'} | "
        f"{ended if r.deliveries else '—'} | {_n(r.lost)} | {duplicated} | {taps} | "
        f"{_n(r.acked_missing)} | {counters} | {r.wall:.1f} s | {'; '.join(r.notes)} | "
        f"{verdict} | {measured} |"
    )


def header() -> list[str]:
    return [
        "## Faults and abuse: the fault runs (issue 12)",
        "",
        "Full size: 8,000 ASN in 58 OPD, each linked to an emulator user (quick size, "
        "`GAUNG_BENCH_FAULTS_SIZE=quick`: 400); each row names the commit, size and time it "
        "measured, and `GAUNG_BENCH_FAULTS_ROWS=fg` runs only those rows, keeping the others. "
        "Real processes throughout: the Telegram emulator (fresh per row), `gaung worker` "
        f"(`GAUNG_TELEGRAM_RATE={PAID}` paid unless said), `gaung serve` for the tap rows, and a "
        "PostgreSQL cluster of the benchmark's own with fsync, synchronous commit and full-page "
        "writes on, crash-stopped (`pg_ctl -m immediate`) in rows (e) and (f). Channel faults "
        "(a)–(d) are windows (12 s; quick: 6 s) during which every `sendMessage` meets the "
        "fault, injected once a quarter of the deliveries are recorded sent; `injected` counts "
        "the calls that met each fault (the emulator's count). `lost`: chats without the "
        "message; `duplicated`: messages beyond one per chat, from the emulator's log of "
        "accepted sends; `in flight`: sends that may have been accepted without the worker "
        "learning or recording it (answers slow past the worker's 15 s timeout or lost, or for "
        "(e) messages on Telegram minus sends recorded when PostgreSQL stopped); duplicated must "
        "stay at or under it. Taps (f), (g): the generator resends every update not answered 200 "
        f"(after 1, 2, 4, then every {RESEND_CAP:.0f} s), as Telegram keeps redelivering an "
        f"unacknowledged update, and gives up {GIVE_UP:.0f} s after an update's first try "
        "(`GAUNG_BENCH_FAULTS_GIVE_UP`). A tap row is met when every tap sent is recorded "
        "exactly once (distinct (delivery, Like/Share) taps sent vs recorded as confirmations; "
        "none given up, none recorded twice, none made up) and no acknowledged tap is lost "
        "(`acked, missing`: updates answered 200 that are not in the inbox, plus taps whose "
        "answer told the user they were noted without a confirmation), with the participation "
        "counters equal to the facts. `python -m bench faults` (`bench/faults.py`).",
        "",
    ]
