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
rate and p99).

Right after each phase, before anything else happens, checks that can fail:
- the facts: inbox rows = distinct update_ids answered 200, every one of them present, none
  unhandled, and confirmations = distinct (delivery, kind) among the taps stored;
- the numbers the API reports: every ``post_opd_stat`` counter (delivered, liked, shared,
  participated per post × OPD) equals the count recomputed from deliveries and confirmations
  (``db.delivery.counters.fact_counts``), and liked/shared/participated also equal what the
  load generator itself sent (the distinct taps stored, per OPD);
- the answers: every update acknowledged with a 200 got its own ``answerCallbackQuery`` (in
  the webhook's response body, as Telegram reads it; none to a wrong query, none twice), and
  the server called ``answerCallbackQuery`` on the emulator for none (the call log).

Durability before the ack is by construction: the webhook's answer (and the
``answerCallbackQuery`` riding in it) is sent only after the commit of the transaction that
stored the update and recorded the tap (``bot.inbox.InboxWriter``). PostgreSQL runs with
fsync, synchronous commit and full-page writes on (``bench.databases``).
``GAUNG_BENCH_ENGINES``, ``GAUNG_BENCH_WEBHOOK_SECONDS``, ``GAUNG_BENCH_WEBHOOK_RATE`` tune it.

Before/after: on a shared machine two runs minutes apart differ by more than most changes do,
so ``GAUNG_BENCH_WEBHOOK_BASELINE=<commit>`` measures that commit's ``gaung serve`` and this
checkout's in the same run, against the same database, in the order before, after, after,
before (a load that drifts weighs on both sides alike), and adds their ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import server
from bench.databases import (
    approve_for_everyone,
    as_if_sent,
    counters_and_facts,
    emulated_roster,
    fresh_databases,
)
from bench.http import KeepAlive, cpu_seconds
from bot.emulators.telegram.runner import EmulatorProcess
from db.delivery.counters import FIELDS
from db.engine import make_engine
from db.models import (
    ButtonRefresh,
    Confirmation,
    Delivery,
    ProcessedUpdate,
    table,
)

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
Variant = tuple[str, Path | None]  # (label, a tree of the project's code or None: this one)


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
    # As if the broadcast had run: every delivery sent, message 1 in the ASN's chat.
    pairs = [(d, int(chat)) for d, chat in as_if_sent(engine, message_id="1")]
    engine.dispose()
    assert len(pairs) == ASN, len(pairs)
    return time.perf_counter() - began, pairs


# --- the server -------------------------------------------------------------------------------


def serve(
    url: str, emulator: EmulatorProcess, folder: Path, source: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``gaung serve`` with the webhook set up against the emulator (``source``: see
    ``bench.server.serve``)."""
    settings = {
        "GAUNG_DATABASE_URL": url,
        "GAUNG_TELEGRAM_TOKEN": TOKEN,
        "GAUNG_TELEGRAM_API_URL": emulator.url,
        "GAUNG_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "GAUNG_SECRET_KEY": "bench-dashboard-secret-key-0123456789abcdef",
    }
    return server.serve(settings, folder, source=source)


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
    answers: Counter[str] = field(default_factory=Counter)  # answerCallbackQuery ids in bodies
    misanswered: int = 0  # an answer naming another update's query, or not parseable
    reconnects: int = 0  # kept-alive connections the server had closed for idleness
    server_cpu: float = 0.0  # seconds of CPU ``gaung serve`` spent during the phase

    @property
    def cpu_ms(self) -> float:
        """Milliseconds of the server's CPU per request (load-proof, unlike wall-clock)."""
        return 1000 * self.server_cpu / len(self.latencies) if self.latencies else float("nan")

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
        if connection.body:  # a redelivery is answered 200 with nothing to say
            try:
                reply = json.loads(connection.body)
                query = (
                    reply["callback_query_id"] if reply["method"] == "answerCallbackQuery" else ""
                )
            except (ValueError, KeyError, TypeError):
                query = ""
            if query == f"q{update_id}":
                phase.answers[query] += 1
            else:
                phase.misanswered += 1
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

    # Built before the clock starts: the generator shares the two cores with the server.
    items = [taps.next() for _ in range(total)]
    began = time.perf_counter()
    for i, item in enumerate(items):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(item, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    phase.seconds = time.perf_counter() - began
    while not idle.empty():
        idle.get_nowait().close()
    return phase


def _yes(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def _errors(phase: Phase) -> str:
    kinds = ", ".join(f"{n} × {kind}" for kind, n in phase.failures.most_common())
    told = f"{phase.errors} ({kinds})" if kinds else "0"
    return f"{told}; {phase.reconnects} reconnects" if phase.reconnects else told


# --- checking ---------------------------------------------------------------------------------


def check(
    url: str,
    answered: list[tuple[int, int, str]],
    sent: list[tuple[int, int, str, bytes]],
    answers: Counter[str],
    misanswered: int,
    emulator_answers: int,
) -> dict[str, Any]:
    """Exactly once, in the facts, the counters and the answers (see the module's docstring).

    The inbox holds only updates sent (a request the client gave up on may still have been
    stored: Telegram would resend it), and each distinct (delivery, kind) among stored taps
    has exactly one confirmation; every ``post_opd_stat`` row equals its count recomputed from
    the facts, and liked/shared/participated equal the taps the generator sent; every update
    acknowledged got one answer to its own query."""
    engine = make_engine(url)
    inbox, confirmation = table(ProcessedUpdate), table(Confirmation)
    delivery = table(Delivery)
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
        counters, facts = counters_and_facts(conn)
        where = {
            int(d): (int(p), int(o))
            for d, p, o in conn.execute(
                select(delivery.c.id, delivery.c.post_id, delivery.c.opd_id)
            )
        }
    engine.dispose()
    ids = {u for u, _, _ in answered}
    sent_ids = {u for u, _, _, _ in sent}
    taps = {(d, "like" if k == "l" else "share") for u, d, k, _ in sent if u in stored}
    # What the generator sent, per (post, OPD): the liked/shared/participated the API must show.
    expected: dict[tuple[int, int], Counter[str]] = {}
    for d, kind in taps:
        expected.setdefault(where[d], Counter())[kind] += 1
    for d in {d for d, _ in taps}:
        expected[where[d]]["participated"] += 1
    counters_wrong = sum(
        1 for key in counters.keys() | facts.keys() if counters.get(key) != facts.get(key)
    )
    # By name: the counters have gained fields (``opened``) since this check was written.
    tapped = [FIELDS.index(f) for f in ("liked", "shared", "participated")]
    sent_wrong = sum(
        1
        for key in counters.keys() | expected.keys()
        if tuple(counters.get(key, (0,) * len(FIELDS))[i] for i in tapped)
        != tuple(expected.get(key, Counter())[f] for f in ("like", "share", "participated"))
    )
    acked_queries = {f"q{u}" for u in ids}
    unanswered = len(acked_queries - answers.keys())
    twice = sum(1 for n in answers.values() if n > 1)
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
        "counter_rows": len(counters),
        "counters_wrong": counters_wrong,
        "counters_unlike_sent": sent_wrong,
        "taps_answered": len(acked_queries & answers.keys()),
        "unanswered": unanswered,
        "answered_twice": twice,
        "misanswered": misanswered,
        "emulator_answers": emulator_answers,
        "ok": ids <= stored <= sent_ids and taps == confirmations and waiting == 0,
        "counters_ok": counters_wrong == 0 and sent_wrong == 0 and bool(counters),
        "answers_ok": unanswered == 0 and twice == 0 and misanswered == 0 and emulator_answers == 0,
    }


# --- the run ----------------------------------------------------------------------------------


def baseline_tree(commit: str, folder: Path) -> Path:
    """The code of ``commit`` unpacked in ``folder`` (``git archive``): a ``gaung serve`` run
    from there is the "before" of a comparison measured in the same run as the "after"."""
    root = Path(__file__).resolve().parent.parent
    tree = folder / f"code-{commit}"
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", commit], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def code_variants(baseline: str | None, folder: Path) -> tuple[list[Variant], str]:
    """The code to measure: this checkout; or, given ``baseline`` (a commit), that commit's and
    this checkout's in the order before, after, after, before (a load that drifts during the
    run weighs on both sides alike). Also the label of the before side."""
    before = f"before (`{baseline}`)"
    if not baseline:
        return [("this commit", None)], before
    tree = baseline_tree(baseline, folder)
    return [(before, tree), ("this commit", None), ("this commit", None), (before, tree)], before


@dataclass
class Measured:
    """One phase against one server: what the table's row and the comparison are made of."""

    code: str
    phase: Phase
    load: float  # 1-minute load average as the phase began

    @property
    def p99(self) -> float:
        return _pct(self.phase.latencies, 0.99)


def engine_run(
    name: str, url: str, folder: Path, variants: list[Variant]
) -> tuple[list[str], list[Measured]]:
    """Both phases against a fresh ``gaung serve`` of each variant in turn (label, code tree or
    None for this checkout), all on one seeded database; the checks are cumulative."""
    seconds, pairs = seed(url)
    print(f"{name}: seeded {ASN} ASN + deliveries in {seconds:.1f} s", flush=True)
    emulator = EmulatorProcess(token=TOKEN, local=True)  # gaung serve is on http://127.0.0.1
    taps = Taps(pairs)
    rows: list[str] = []
    measured: list[Measured] = []
    answered: list[tuple[int, int, str]] = []
    answers: Counter[str] = Counter()
    misanswered = 0
    try:
        for label, source in variants:
            process, port = serve(url, emulator, folder, source)
            try:
                for open_rate in (None, RATE):
                    load = os.getloadavg()[0]
                    cpu = cpu_seconds(process.pid)
                    if open_rate is None:
                        phase = asyncio.run(closed_loop(port, taps, CLOSED_SECONDS))
                    else:
                        phase = asyncio.run(open_loop(port, taps, open_rate, SECONDS))
                    phase.server_cpu = cpu_seconds(process.pid) - cpu
                    measured.append(Measured(label, phase, load))
                    answered += phase.answered
                    answers += phase.answers
                    misanswered += phase.misanswered
                    calls = emulator.op("stats")["calls"]
                    by_server = sum(
                        n for key, n in calls.items() if key.startswith("answerCallbackQuery")
                    )
                    # At once: recorded (and counted) by the time acked.
                    result = check(url, answered, taps.sent, answers, misanswered, by_server)
                    rows.append(_row(name, label, load, phase, open_rate, result))
                    print(rows[-1], result, flush=True)
            finally:
                server.stop(process)
    finally:
        emulator.close()
    return rows, measured


def _row(
    name: str,
    label: str,
    load: float,
    phase: Phase,
    open_rate: float | None,
    result: dict[str, Any],
) -> str:
    p99 = _pct(phase.latencies, 0.99)
    fast = open_rate is None or p99 < TARGET_P99_MS
    verified = result["ok"] and result["counters_ok"] and result["answers_ok"]
    met = phase.rate >= TARGET_RATE * 0.99 and fast and phase.errors == 0 and verified
    return (
        f"| {name} | {label} | {phase.name} | {load:.1f} | {len(phase.latencies):,} | "
        f"{phase.rate:,.0f}/s | "
        f"{_pct(phase.latencies, 0.5):.1f} ms | {_pct(phase.latencies, 0.95):.1f} ms | "
        f"{p99:.1f} ms | {phase.cpu_ms:.2f} ms | {_errors(phase)} | "
        f"{result['inbox_rows']:,} / {result['distinct_updates']:,} "
        f"({result['acked_missing']} acked, missing; {result['unhandled']} unhandled) | "
        f"{result['confirmations']:,} / {result['distinct_taps']:,} | "
        f"{_yes(result['counters_ok'])} ({result['counter_rows']} rows; "
        f"{result['counters_wrong']} unlike the facts, "
        f"{result['counters_unlike_sent']} unlike the taps sent) | "
        f"{result['taps_answered']:,} / {result['distinct_updates']:,} "
        f"({result['unanswered']} unanswered, {result['answered_twice']} twice, "
        f"{result['misanswered']} wrong, {result['emulator_answers']} via the API) | "
        f"{result['redraws_queued']:,} | {_yes(result['ok'])} | "
        f"{'yes' if met else 'NO'} ({'rate' if open_rate is None else 'rate, p99'}) |"
    )


def _mean(runs: list[Measured], value: Callable[[Measured], float]) -> float:
    return sum(value(m) for m in runs) / len(runs)


def comparison(name: str, measured: list[Measured], before: str, after: str) -> list[str]:
    """After ÷ before, per phase kind, each side the mean over its runs (ABBA order, so that
    a load that drifts during the run weighs on both sides alike)."""
    rows = []
    for kind in ("closed", "open"):
        sides = {
            code: [m for m in measured if m.code == code and m.phase.name.startswith(kind)]
            for code in (before, after)
        }
        if not all(sides.values()):
            continue

        rate = {c: _mean(runs, lambda m: m.phase.rate) for c, runs in sides.items()}
        p99 = {c: _mean(runs, lambda m: m.p99) for c, runs in sides.items()}
        cpu = {c: _mean(runs, lambda m: m.phase.cpu_ms) for c, runs in sides.items()}
        load = {c: _mean(runs, lambda m: m.load) for c, runs in sides.items()}
        rows.append(
            f"| {name} | {sides[after][0].phase.name} | {rate[before]:,.0f}/s → "
            f"{rate[after]:,.0f}/s ({rate[after] / rate[before]:.2f} ×) | "
            f"{p99[before]:.1f} ms → {p99[after]:.1f} ms ({p99[after] / p99[before]:.2f} ×) | "
            f"{cpu[before]:.2f} ms → {cpu[after]:.2f} ms ({cpu[after] / cpu[before]:.2f} ×) | "
            f"{load[before]:.1f} / {load[after]:.1f} |"
        )
    return rows


def measured_code(
    prefix: str, baseline_variable: str
) -> tuple[tuple[str, ...], Path, str | None, list[Variant], str]:
    """What a run with an optional before/after measures: the engines
    (``GAUNG_BENCH_ENGINES``), a fresh folder, the baseline commit named by
    ``baseline_variable`` (or None), the code variants and the label of the before side."""
    engines = tuple(
        os.environ.get("GAUNG_BENCH_ENGINES", "sqlite,postgresql").replace(" ", "").split(",")
    )
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    baseline = os.environ.get(baseline_variable)
    variants, before = code_variants(baseline, folder)
    return engines, folder, baseline, variants, before


def run() -> list[str]:
    engines, folder, baseline, variants, before = measured_code(
        "gaung-webhook-", "GAUNG_BENCH_WEBHOOK_BASELINE"
    )
    lines = [
        "## Button taps through the webhook (issue 4)",
        "",
        f"{ASN:,} registered ASN, one sent delivery each; `gaung serve` (one uvicorn worker) "
        "against the Telegram emulator in its own process, loaded from a third process over "
        "keep-alive HTTP/1.1 on loopback, all on the same 2-core machine. `server CPU`: user + "
        "system seconds `gaung serve` spent during the phase (`/proc`) per request. Taps are "
        "random "
        f"(delivery, Like/Share) pairs; {DUPLICATES:.0%} of requests resend an earlier update "
        "verbatim. Latency is the webhook's HTTP answer (open loop: from the scheduled send "
        "time). "
        "Checks right after each phase (cumulative): inbox rows / distinct update_ids "
        "answered 200 (a request the client timed out on, after 30 s, may be stored but not "
        "acked; every acked one must be present) and none left unhandled; confirmations / "
        "distinct (delivery, kind) taps among stored updates; the participation counters "
        "the API reports (`post_opd_stat`, per post × OPD: delivered, liked, shared, "
        "participated) against the same counts recomputed from deliveries and confirmations, "
        "and liked/shared/participated against the taps the generator sent; "
        "`answerCallbackQuery` answers read from the webhook's responses / distinct updates "
        "acked (each acked tap must get exactly one answer, to its own query; a verbatim "
        "resend is answered 200 with nothing to say), and calls to `answerCallbackQuery` the "
        "server made through the Bot API instead (the emulator's call log; must be 0); "
        "button redraws still queued "
        "(drawn behind the taps at the bot's 30 edits/s; here they answer 400, the messages "
        "not being in the emulator). A tap is recorded in the same transaction that stores "
        "its update, and answered (`answerCallbackQuery` in the webhook's response) only after "
        "that commit. PostgreSQL runs with fsync, synchronous commit and full-page writes on. "
        "Target: ≥ 1,000 updates/s, p99 < 100 ms, exactly once (facts, counters and answers "
        "all verified); the closed loop "
        "(128 requests always outstanding) is judged on throughput, the open loop on rate and "
        "p99.",
        "",
        "`load` is the machine's 1-minute load average as the phase began (2 cores).",
        "",
        "| engine | code | phase | load | requests | throughput | p50 | p95 | p99 | "
        "server CPU / request | errors | "
        "inbox / updates | confirmations / taps | counters = facts | answers / acked | "
        "redraws queued | exactly once | target met |",
        "|" + " --- |" * 18,
    ]
    measured: dict[str, list[Measured]] = {}
    with fresh_databases(engines) as urls:
        for name, url in urls.items():
            rows, measured[name] = engine_run(name, url, folder, variants)
            lines += rows
    if baseline:
        lines += [
            "",
            f"Before and after in the same run: `gaung serve` of commit `{baseline}` (unpacked "
            "with `git archive`, same interpreter and packages) and of this commit, against the "
            "same database and load, in the order before, after, after, before; each side is "
            "the mean of its two runs.",
            "",
            "| engine | phase | throughput before → after | p99 before → after | "
            "server CPU per request before → after | load before / after |",
            "|" + " --- |" * 6,
        ]
        for name, runs in measured.items():
            lines += comparison(name, runs, before, "this commit")
    return lines
