"""Issue 13's figure: WhatsApp status webhooks ingested.

Target: at least 2,000 status events/s sustained, the signature checked on every POST, each
status exactly once in the counters, on durable PostgreSQL and on SQLite.

8,000 ASN on WhatsApp each get one delivery of one approved post, recorded sent (as if the
broadcast had run). ``gaung serve`` (WhatsApp only, one uvicorn worker) runs in its own
process; this process posts Meta's status webhooks over keep-alive HTTP/1.1 connections, each
POST signed with ``X-Hub-Signature-256``, carrying 1 status and then (a second measurement) 10,
as Meta batches changes under load: ``sent``, then ``delivered`` with the PMP ``pricing``, or
``failed`` (131026) for 5 % of the deliveries; 5 % of POSTs are sent twice verbatim (Meta's
duplicates). Checked afterwards: inbox rows = distinct statuses, the post's ``delivered``
counter = deliveries minus the failed ones, each failure recorded, every delivered one priced.
``GAUNG_BENCH_ENGINES`` and ``GAUNG_BENCH_WA_BATCH`` (e.g. ``1,10``) tune it;
``GAUNG_BENCH_WA_BASELINE=<commit>`` also measures that commit's ``gaung serve`` in the same
run (before, after, after, before on one seeded database) and adds their ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlmodel import select as sm_select

from bench import server
from bench.databases import approve_for_everyone, as_if_sent, fresh_databases
from bench.http import KeepAlive, cpu_seconds
from bench.webhook import Variant, measured_code
from bot.whatsapp.webhook import signature
from db.accounts.identities import link_identity
from db.delivery.counters import rebuild
from db.engine import make_engine, session_scope
from db.models import (
    Asn,
    ChatIdentity,
    Delivery,
    DeliveryStatus,
    PostOpdStat,
    ProcessedUpdate,
    table,
)
from db.roster.synthetic import import_synthetic_roster

ASN = 8000
SECRET = "bench-app-secret-0123456789abcdef"
PHONE_ID = "106540352242922"
CLIENTS = 32
BATCHES = tuple(int(b) for b in os.environ.get("GAUNG_BENCH_WA_BATCH", "1,10").split(","))
FAILED = 0.05
DUPLICATES = 0.05
TARGET = 2000.0


def seed(url: str) -> tuple[int, list[int]]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        report = import_synthetic_roster(session, ASN, seed=13)
        assert report.added == ASN
    with session_scope(engine) as session:
        people = list(session.exec(sm_select(Asn).order_by(table(Asn).c.id)))
        for k, asn in enumerate(people):
            link_identity(session, asn, channel="whatsapp", external_id=f"62810{k:08d}")
    post_id, queued = approve_for_everyone(engine, "https://instagram.com/p/wa-bench", "Ayo")
    assert queued == ASN, queued
    # The outbox and counters as the broadcaster leaves them: every delivery counted delivered.
    ids = [d for d, _ in as_if_sent(engine)]
    engine.dispose()
    return post_id, ids


def bodies(ids: list[int], batch: int) -> tuple[list[bytes], set[int]]:
    rng = random.Random(13)
    failed = {i for i in ids if rng.random() < FAILED}
    items = []
    for i in ids:
        wamid = f"wamid.bench{i}"
        contact = {"profile": {"name": ""}, "wa_id": f"62810{i:08d}", "user_id": f"ID.{i}"}
        for status in ("sent", "failed" if i in failed else "delivered"):
            item: dict[str, object] = {
                "id": wamid,
                "status": status,
                "timestamp": str(int(time.time())),
                "recipient_id": contact["wa_id"],
                "recipient_user_id": contact["user_id"],
                "biz_opaque_callback_data": f"g1:{i}",
            }
            if status == "failed":
                item["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
            else:
                item["pricing"] = {
                    "billable": True,
                    "pricing_model": "PMP",
                    "category": "marketing",
                    "type": "regular",
                }
            items.append((contact, item))
    # sent before delivered for one message: keep order within a delivery, interleave others
    posts = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        entries = [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "62811",
                                "phone_number_id": PHONE_ID,
                            },
                            "contacts": [c],
                            "statuses": [s],
                        },
                    }
                ],
            }
            for c, s in chunk
        ]
        posts.append(json.dumps({"object": "whatsapp_business_account", "entry": entries}).encode())
    return posts, failed


def serve(
    url: str, folder: Path, source: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    settings = {
        "GAUNG_DATABASE_URL": url,
        "GAUNG_WHATSAPP_TOKEN": "EAAG-BENCH",
        "GAUNG_WHATSAPP_PHONE_ID": PHONE_ID,
        "GAUNG_WHATSAPP_API_URL": "http://127.0.0.1:9",  # nothing is sent in this benchmark
        "GAUNG_WHATSAPP_APP_SECRET": SECRET,
        "GAUNG_WHATSAPP_VERIFY_TOKEN": "v",
        "GAUNG_SECRET_KEY": "bench-dashboard-secret-key-0123456789abcdef",  # serve needs one
    }
    return server.serve(settings, folder, source=source, drop=("GAUNG_TELEGRAM_TOKEN",))


def requests(port: int, posts: list[bytes]) -> list[bytes]:
    """Each POST whole, signed over its exact bytes, built before the clock starts: the load
    generator shares the two cores with the server, so the timed loop only writes and reads.
    """
    head = (
        f"POST /webhook/whatsapp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
    )
    return [
        f"{head}X-Hub-Signature-256: {signature(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        for body in posts
    ]


@dataclass
class Load:
    seconds: float
    posts: int
    events: int
    errors: int
    server_cpu: float  # seconds of CPU ``gaung serve`` spent during the load


async def load(port: int, pid: int, posts: list[bytes], batch: int) -> Load:
    """Every POST (and the duplicates), over ``CLIENTS`` kept-alive connections."""
    rng = random.Random(7)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    # A delivery's sent and delivered/failed may be in adjacent POSTs: one client each keeps
    # order only within its own stream, as Meta's order is not guaranteed either.
    for request in requests(port, posts):
        queue.put_nowait(request)
        if rng.random() < DUPLICATES:
            queue.put_nowait(request)
    total = queue.qsize()
    errors = 0

    async def client() -> None:
        nonlocal errors
        connection = KeepAlive("127.0.0.1", port)
        try:
            while not queue.empty():
                if await connection.send(queue.get_nowait()) != 200:
                    errors += 1
        finally:
            connection.close()

    cpu = cpu_seconds(pid)
    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    seconds = time.perf_counter() - began
    return Load(seconds, total, total * batch, errors, cpu_seconds(pid) - cpu)


def check(url: str, post_id: int, failed: set[int]) -> dict[str, object]:
    engine = make_engine(url)
    delivery, inbox = table(Delivery), table(ProcessedUpdate)
    with engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.channel == "whatsapp")
        ).scalar_one()
        failed_rows = conn.execute(
            select(func.count()).where(delivery.c.status == DeliveryStatus.FAILED.value)
        ).scalar_one()
        priced = conn.execute(
            select(func.count()).where(delivery.c.billable.is_(True))
        ).scalar_one()
        delivered = conn.execute(
            select(func.sum(table(PostOpdStat).c.delivered)).where(
                table(PostOpdStat).c.post_id == post_id
            )
        ).scalar_one()
    engine.dispose()
    expected_rows = 2 * ASN
    ok = (
        rows == expected_rows
        and failed_rows == len(failed)
        and delivered == ASN - len(failed)
        and priced == ASN - len(failed)
    )
    return {
        "inbox": rows,
        "expected": expected_rows,
        "failed": failed_rows,
        "delivered": delivered,
        "priced": priced,
        "ok": ok,
    }


def rewind(url: str) -> None:
    """Back to what ``seed`` left (every delivery sent, nothing in the inbox, the counters
    recomputed), so that each measurement of one seeded database starts alike."""
    engine = make_engine(url)
    delivery, identity = table(Delivery), table(ChatIdentity)
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(delete(table(ProcessedUpdate)))
        conn.execute(
            update(delivery).values(
                status=DeliveryStatus.SENT.value,
                failed_at=None,
                error=None,
                failure_kind=None,
                billable=None,
                pricing_category=None,
            )
        )
        conn.execute(
            update(identity).values(reachable=True, unreachable_reason=None, unreachable_at=None)
        )
        rebuild(session)
    engine.dispose()


@dataclass
class Measured:
    engine: str
    code: str
    batch: int
    load: Load
    average: float  # 1-minute load average as it began

    @property
    def rate(self) -> float:
        return self.load.events / self.load.seconds

    @property
    def cpu_ms(self) -> float:
        """Milliseconds of the server's CPU per status event."""
        return 1000 * self.load.server_cpu / self.load.events


def measure_one(
    name: str, url: str, folder: Path, batch: int, ids: list[int], post_id: int, variant: Variant
) -> tuple[str, Measured]:
    label, source = variant
    rewind(url)
    posts, failed = bodies(ids, batch)
    process, port = serve(url, folder, source)
    try:
        average = os.getloadavg()[0]
        done = asyncio.run(load(port, process.pid, posts, batch))
        time.sleep(1.0)
        result = check(url, post_id, failed)
    finally:
        server.stop(process)
    measured = Measured(name, label, batch, done, average)
    met = measured.rate >= TARGET and done.errors == 0 and bool(result["ok"])
    line = (
        f"| {name} | {label} | {batch} | {done.posts:,} | {done.events:,} | "
        f"{done.seconds:.1f} | {measured.rate:,.0f} | {measured.cpu_ms:.3f} ms | "
        f"{average:.1f} | {done.errors} | "
        f"{result['inbox']:,} / {result['expected']:,} | {result['failed']} | "
        f"{result['delivered']} | {result['priced']} | "
        f"{'yes' if result['ok'] else 'NO'} | {'yes' if met else 'NO'} |"
    )
    print(line, result, flush=True)
    return line, measured


def comparison(measured: list[Measured], before: str, after: str) -> list[str]:
    """After ÷ before per engine and batch, each side the mean of its runs."""
    rows = []
    for name in dict.fromkeys(m.engine for m in measured):
        for batch in BATCHES:
            sides = {
                code: [m for m in measured if (m.engine, m.batch, m.code) == (name, batch, code)]
                for code in (before, after)
            }
            if not all(sides.values()):
                continue
            rate = {c: sum(m.rate for m in ms) / len(ms) for c, ms in sides.items()}
            cpu = {c: sum(m.cpu_ms for m in ms) / len(ms) for c, ms in sides.items()}
            rows.append(
                f"| {name} | {batch} | {rate[before]:,.0f} → {rate[after]:,.0f} "
                f"({rate[after] / rate[before]:.2f} ×) | {cpu[before]:.3f} ms → "
                f"{cpu[after]:.3f} ms ({cpu[after] / cpu[before]:.2f} ×) |"
            )
    return rows


def run() -> list[str]:
    engines, folder, baseline, variants, before = measured_code(
        "gaung-wa-status-", "GAUNG_BENCH_WA_BASELINE"
    )
    lines = [
        "## WhatsApp status webhooks ingested (issue 13)",
        "",
        f"{ASN:,} ASN on WhatsApp, one sent delivery each; `gaung serve` (one uvicorn worker) in "
        "its own process, loaded from this one over keep-alive HTTP/1.1 on loopback "
        f"({CLIENTS} connections; every request built and signed before the clock starts, so "
        "the generator's timed loop only writes and reads), same 2-core machine. Each POST is "
        "signed and carries "
        "1 status (Meta's usual) or 10 (Meta batches changes under load): `sent`, then "
        "`delivered` with pricing, or `failed` 131026 for "
        f"{FAILED:.0%} of deliveries; {DUPLICATES:.0%} of POSTs are repeated verbatim. "
        "Checked after: inbox rows = distinct statuses, `delivered` counter = deliveries − "
        "failed, each failure recorded once, every delivered one priced (a failed one is not "
        "billed). `server CPU`: user + system seconds `gaung serve` spent during the load "
        "(`/proc`), per status event; `load`: the machine's 1-minute load average as it began. "
        "PostgreSQL here is a cluster of its own with default durability (fsync, "
        "synchronous commit on), not the tests' fsync-off one. Target: ≥ 2,000 events/s, "
        "exactly once.",
        "",
        "| engine | code | statuses per POST | POSTs | events | seconds | events/s | "
        "server CPU / event | load | errors | inbox / statuses | failed | "
        "delivered counter | priced | exactly once | target met |",
        "|" + " --- |" * 16,
    ]
    measured: list[Measured] = []
    with fresh_databases(engines) as urls:  # PostgreSQL with its durable defaults
        if "postgresql" in urls:
            urls["postgresql (durable)"] = urls.pop("postgresql")
        for name, url in urls.items():
            post_id, ids = seed(url)
            for batch in BATCHES:
                for variant in variants:
                    line, one = measure_one(name, url, folder, batch, ids, post_id, variant)
                    lines.append(line)
                    measured.append(one)
    if baseline:
        lines += [
            "",
            f"Before and after in the same run: `gaung serve` of commit `{baseline}` (unpacked "
            "with `git archive`, same interpreter and packages) and of this commit, on the same "
            "seeded database (rewound before each run) and load, in the order before, after, "
            "after, before; each side is the mean of its two runs.",
            "",
            "| engine | statuses per POST | events/s before → after | "
            "server CPU per event before → after |",
            "|" + " --- |" * 4,
        ]
        lines += comparison(measured, before, "this commit")
    return lines
