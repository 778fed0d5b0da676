"""Issue 13's figures: one post to 8,000 ASN on WhatsApp at 80 messages/s and at 1,000/s.

Target (issue 13): at most 1.05 × 100 s at 80/s and at most 10 s at the upgraded 1,000/s tier
(looser than 1.05 × 8 s = 8.4 s, which the table's text names too), no 130429 beyond 0.5 % of
requests, zero lost, zero duplicates.

The emulator (``python -m bot.emulators.whatsapp``, its own process, 80/s, tier 10,000) holds
8,000 users, none of whom wrote to the number today, so every post goes as the approved
template; each ASN in the database is linked to one of them. ``gaung worker`` (its own process,
``GAUNG_WHATSAPP_RATE=80``, ``GAUNG_WHATSAPP_DAILY_LIMIT=10000``) sends the broadcast; the time
is from approval to the last delivery recorded sent. The emulator's call log gives the 130429
count and the messages each user holds (duplicates, lost). ``GAUNG_BENCH_WA_RATES`` picks the
rates (default ``80,1000``; the emulator's throughput and ``GAUNG_WHATSAPP_RATE`` alike),
``GAUNG_BENCH_WA_SHAPE`` how the emulator counts the throughput (Meta does not say: ``bucket``,
the default, ``sliding`` or ``fixed``), ``GAUNG_BENCH_ENGINES`` the databases and
``GAUNG_BENCH_WA_ASN`` the roster's size (the targets scale with it). Each row also splits its
wall time (``Split``), from the emulator's accepted calls.

The machine is shared: beside the wall time each row gives the CPU seconds the worker and the
emulator spent (``/proc``), and the load average while it ran, so a row measured on a busy
machine says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlmodel import select as sm_select

from bench.databases import approve_for_everyone, engine_table
from bench.http import cpu_seconds
from bot.emulators.whatsapp.runner import EmulatorProcess
from bot.emulators.whatsapp.world import FIRST_WA_ID
from db.accounts.identities import link_identity
from db.delivery.outbox import status_counts
from db.delivery.pace import cap_for
from db.engine import make_engine, session_scope
from db.models import Asn, ChatIdentity, Delivery, Post, WorkerHeartbeat, table
from db.roster.synthetic import import_synthetic_roster
from db.types import utcnow

ASN = int(os.environ.get("GAUNG_BENCH_WA_ASN", "8000"))
RATE = 80.0
RATES = tuple(float(r) for r in os.environ.get("GAUNG_BENCH_WA_RATES", "80,1000").split(","))
TARGET = 1.05 * ASN / RATE
# The emulator's throughput limiter (Meta publishes none): bucket (default), sliding or fixed.
SHAPE = os.environ.get("GAUNG_BENCH_WA_SHAPE", "bucket")
TOKEN = "EAAG-BENCH-TOKEN"
PHONE_ID = "106540352242922"


def linked_roster(
    url: str, count: int, *, seed: int, identity: Callable[[int], tuple[str, str]]
) -> None:
    """``count`` generated ASN, the k-th (by id) linked as ``identity(k)`` says (channel,
    external id); registered long ago: no 24-hour window is open (a WhatsApp post is a
    template)."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        report = import_synthetic_roster(session, count, seed=seed)
        assert report.added == count
    with session_scope(engine) as session:
        people = list(session.exec(sm_select(Asn).order_by(table(Asn).c.id)))
        for k, asn in enumerate(people):
            channel, external_id = identity(k)
            link_identity(session, asn, channel=channel, external_id=external_id)
    with session_scope(engine) as session:
        session.connection().execute(update(table(ChatIdentity)).values(last_inbound_at=None))
    engine.dispose()


def populate(url: str) -> None:
    linked_roster(url, ASN, seed=21, identity=lambda k: ("whatsapp", str(FIRST_WA_ID + k)))


def bench_engines() -> tuple[str, ...]:
    """The engines to run (``GAUNG_BENCH_ENGINES``, default both)."""
    chosen = os.environ.get("GAUNG_BENCH_ENGINES", "sqlite,postgresql")
    return tuple(chosen.replace(" ", "").split(","))


def target(rate: float) -> float:
    """Issue 13's targets: 1.05 × the limit-implied time at 80/s (105 s for 8,000), and at most
    10 s for 8,000 at 1,000/s (the upgraded tier), scaled to the roster size."""
    if rate >= 1000:
        return 10.0 * ASN / 8000
    return 1.05 * ASN / rate


def worker(
    url: str, emulator: EmulatorProcess, folder: Path, rate: float = RATE
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "GAUNG_DATABASE_URL": url,
        "GAUNG_WHATSAPP_TOKEN": TOKEN,
        "GAUNG_WHATSAPP_PHONE_ID": PHONE_ID,
        "GAUNG_WHATSAPP_API_URL": emulator.url,
        "GAUNG_WHATSAPP_RATE": str(rate),
        "GAUNG_WHATSAPP_DAILY_LIMIT": "10000",
    }
    env.pop("GAUNG_TELEGRAM_TOKEN", None)
    log = (folder / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"], env=env, stdout=log, stderr=log, cwd=folder
    )


@dataclass(frozen=True)
class Timed:
    """One post timed from approval to its last delivery recorded."""

    post_id: int
    queued: int
    counts: dict[str, int]
    wall: float  # s: approval to the last delivery recorded (the database's own timestamps)
    cpu: tuple[float, ...]  # s of CPU of each watched process during the run
    load: float  # the 1-minute load average while it ran
    committed: float  # epoch s: when the approval (queueing every delivery) had committed

    @property
    def done(self) -> int:
        return self.counts.get("sent", 0) + self.counts.get("failed", 0)


def wait_ready(engine: Engine, since: datetime, timeout: float = 120.0) -> None:
    """Until a worker started after ``since`` beats in the database: its claim loop runs.

    A fixed 3 s sleep was shorter than a worker's start (imports, connections) on a loaded
    machine (9 s measured at load 12): the start then counted as the broadcast's time.
    """
    beats = table(WorkerHeartbeat)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine, readonly=True) as session:
            started = session.connection().execute(
                select(func.count()).where(beats.c.started_at >= since)
            )
            if started.scalar_one():
                return
        time.sleep(0.1)
    raise TimeoutError(f"no worker started within {timeout:.0f} s")


def recorded_spans(url: str, post_id: int) -> dict[str, float]:
    """Per channel: seconds from the post's approval to its last delivery recorded sent or
    failed, from the rows themselves (a poll of the counts would add up to its interval)."""
    engine = make_engine(url)
    delivery, post = table(Delivery), table(Post)
    with session_scope(engine, readonly=True) as session:
        conn = session.connection()
        approved = conn.execute(select(post.c.approved_at).where(post.c.id == post_id)).scalar()
        rows = conn.execute(
            select(delivery.c.channel, func.max(delivery.c.sent_at), func.max(delivery.c.failed_at))
            .where(delivery.c.post_id == post_id)
            .group_by(delivery.c.channel)
        ).all()
    engine.dispose()
    assert approved is not None
    spans = {}
    for channel, *ends in rows:
        if moments := [m for m in ends if m is not None]:
            spans[str(channel)] = (max(moments) - approved).total_seconds()
    return spans


@dataclass(frozen=True)
class Split:
    """Where a post's wall time went, from the emulator's accepted calls and the rows."""

    first: float  # s: approval to the first send accepted
    approving: float  # s: of ``first``, the approval's transaction until it committed
    sending: float  # s: the first send to the last
    ideal: float  # s: what ``sending`` takes at the pace (``cap_for`` × rate), without a gap
    ramp: float  # s: behind the pace after the first second's worth of sends
    tail: float  # s: the last send to the last delivery recorded

    def cell(self) -> str:
        return (
            f"{self.first:.2f} (commit {self.approving:.2f}) + {self.sending:.1f} "
            f"(pace {self.ideal:.1f}, behind {self.sending - self.ideal:+.2f}, of it "
            f"{self.ramp:+.2f} in the first second) + "
            f"{self.tail:.2f} s"
        )


def split(
    times: Sequence[float], approved: float, wall: float, pace: float, approving: float
) -> Split | None:
    """``times``: the accepted sends (epoch s); ``approved``: the approval (epoch s); ``wall``:
    approval to the last delivery recorded; ``pace``: the rate the ledger aims at."""
    if len(times) < 2:
        return None
    times = sorted(times)
    spacing = 1.0 / pace
    head = min(len(times) - 1, max(1, round(pace)))  # the first second's worth
    return Split(
        first=times[0] - approved,
        approving=approving,
        sending=times[-1] - times[0],
        ideal=(len(times) - 1) * spacing,
        ramp=(times[head] - times[0]) - head * spacing,
        tail=wall - (times[-1] - approved),
    )


def approved_at(url: str, post_id: int) -> float:
    engine = make_engine(url)
    with session_scope(engine, readonly=True) as session:
        post = table(Post)
        moment = (
            session.connection()
            .execute(select(post.c.approved_at).where(post.c.id == post_id))
            .scalar_one()
        )
    engine.dispose()
    return float(moment.timestamp())


def timed_post(
    url: str,
    launch: Callable[[], subprocess.Popen[bytes]],
    link: str,
    *,
    limit: float,
    watch: Sequence[int] = (),
) -> Timed:
    """Start ``gaung worker`` (``launch``), approve a post for everyone once it runs, wait
    until every delivery is sent or failed (or ``limit`` s), stop the worker. CPU: the
    worker's, then each pid of ``watch`` (the emulators)."""
    engine = make_engine(url)
    launched = utcnow()
    process = launch()
    try:
        wait_ready(engine, launched)
        pids = (process.pid, *watch)
        cpu_before = [cpu_seconds(pid) for pid in pids]
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        post_id, queued = approve_for_everyone(engine, link, "")
        committed = time.time()
        while True:
            with session_scope(engine, readonly=True) as session:
                counts = status_counts(session, post_id)
            done = counts.get("sent", 0) + counts.get("failed", 0)
            if done >= queued or time.perf_counter() - began > limit:
                break
            time.sleep(0.2)
        cpu = tuple(cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True))
        load = (load_before + os.getloadavg()[0]) / 2
        wall = time.perf_counter() - began
        if done >= queued:
            wall = max(recorded_spans(url, post_id).values())
    finally:
        process.terminate()
        process.wait(timeout=60)
        engine.dispose()
    return Timed(post_id, queued, counts, wall, cpu, load, committed)


def engine_run(name: str, url: str, folder: Path, rate: float = RATE, *, run: int = 0) -> str:
    """One post at ``rate``; ``run``: how many posts went to the same people before it."""
    if not run:
        populate(url)
    goal = target(rate)
    emulator = EmulatorProcess(
        token=TOKEN,
        phone_id=PHONE_ID,
        rate=rate,
        shape=SHAPE,
        messaging_limit=10000,
        pair_rate=1,
        pair_burst=5,
    )
    try:
        emulator.op("add_users", count=ASN)
        timed = timed_post(
            url,
            lambda: worker(url, emulator, folder, rate),
            f"https://instagram.com/p/wa{rate:.0f}-{run}",
            limit=max(240.0, 4 * goal),
            watch=[emulator.pid],
        )
        stats = emulator.op("stats")
        times = emulator.op("accepted_times")
    finally:
        emulator.close()
    counts, queued, done, wall = timed.counts, timed.queued, timed.done, timed.wall
    load = timed.load
    cpu_worker, cpu_emulator = timed.cpu
    calls = stats["calls"]
    requests = sum(calls.values())
    throttled = calls.get("130429", 0)
    share = 100 * throttled / requests if requests else 0.0
    # Recorded sent, but no message at the emulator (a run cut at the deadline leaves rows
    # unfinished: those are counted apart, not as lost).
    unfinished = queued - done
    lost = max(0, counts.get("sent", 0) - stats["users_with_messages"])
    dupes = stats["users_with_duplicates"]
    pace = cap_for("whatsapp", rate) * rate
    approved = approved_at(url, timed.post_id)
    parts = split(times, approved, wall, pace, timed.committed - approved)
    met = wall <= goal and share <= 0.5 and lost == 0 and dupes == 0 and unfinished == 0
    line = (
        f"| {name} | {rate:,.0f}/s | {queued:,} | {wall:.1f} s | {goal:.1f} s | {requests:,} | "
        f"{throttled} ({share:.2f} %) | {counts.get('sent', 0):,} | {counts.get('failed', 0)} | "
        f"{lost} | {dupes} | {unfinished} | "
        f"{cpu_worker:.1f} s ({1000 * cpu_worker / max(1, done):.2f} ms) | "
        f"{cpu_emulator:.1f} s | {parts.cell() if parts else '—'} | {load:.1f} | "
        f"{'yes' if met else 'NO'} |"
    )
    print(line, stats, flush=True)
    return line


def run() -> list[str]:
    engines = bench_engines()
    folder = Path(tempfile.mkdtemp(prefix="gaung-wa-broadcast-"))
    intro = [
        "## WhatsApp broadcast at 80 and 1,000 messages/s (issue 13)",
        "",
        f"{ASN:,} ASN, every one outside the 24-hour window (all templates, each reserved "
        "against the messaging-limit tier in the database first, group-committed); "
        "`gaung worker` and the WhatsApp emulator (throughput as the row says, counted as a "
        f"{SHAPE} (`GAUNG_BENCH_WA_SHAPE`: bucket, sliding or fixed), tier 10,000, "
        "pair limit 1/s with bursts of 5) in their own processes on the same 2-core machine; "
        "the rates run in this order on one database, each a new post to the same "
        f"{ASN:,} (`GAUNG_BENCH_WA_RATES`, default `80,1000`): the 1,000/s row is the day's "
        "second post to people already counted in the tier, sent by a worker restarted with "
        "the raised rate after the shared pace had run at 80/s. Time from approval to the last "
        "delivery recorded (the rows' own `approved_at` and `sent_at`), the clock started once "
        "the worker runs (its heartbeat). "
        "Target (issue 13): ≤ 105 s at 80/s (1.05 × the rate-implied time), ≤ 10 s at 1,000/s "
        "(the issue's figure; 1.05 × the rate-implied time would be 8.4 s), "
        "130429 ≤ 0.5 % of requests, none lost or duplicated (lost: recorded sent "
        "without a message at the emulator; unfinished: not sent when the run was stopped at its "
        "deadline, 4 × the target or 240 s). PostgreSQL runs "
        "durable (fsync, synchronous commit on: `bench/databases.py`). The WhatsApp pace aims at "
        f"{100 * cap_for('whatsapp', RATE):g} % of the configured rate at 80/s and "
        f"{100 * cap_for('whatsapp', 1000):g} % at 1,000/s (`db/delivery/pace.py` `cap_for`), so "
        f"{ASN:,} at 80/s cannot take less than "
        f"{(ASN - 1) / (cap_for('whatsapp', RATE) * RATE):.1f} s. "
        "Split: approval to the first send accepted (of it, the approval's own commit, which "
        "queues every delivery) + the first send to the last (the pace's own time for them; "
        "behind: the difference, of it how much in the first second's worth; pauses of the "
        "worker or the emulator show up there) + the last send to the last delivery recorded; "
        "from the emulator's accepted calls. "
        "CPU: what the worker and the emulator processes spent during the run "
        "(ms per delivery for the worker); load: the 1-minute load average (2 cores) while it "
        "ran — other sessions share the machine.",
    ]
    columns = (
        "engine | rate | deliveries | wall | target | requests | 130429 | sent | failed | lost | "
        "duplicated | unfinished | worker CPU | emulator CPU | split | load | target met"
    )

    def rows(name: str, url: str) -> list[str]:
        """The rates one after the other on the same database (see the intro)."""
        return [engine_run(name, url, folder, rate, run=k) for k, rate in enumerate(RATES)]

    return engine_table(intro, columns, rows, engines)
