"""Issue 13's figure: one post to 8,000 ASN, half only on WhatsApp, half only on Telegram.

The two channels must send in parallel: done within 1.05 × the time the slower channel's limit
implies (4,000 at Telegram's 30/s ≈ 133 s; WhatsApp's 4,000 at 80/s take 50 s), not the 183 s
of one after the other. One ``gaung worker`` (its own process) holds both channels
(``GAUNG_TELEGRAM_RATE=30``, ``GAUNG_WHATSAPP_RATE=80``, tier 10,000); the Telegram emulator
and the WhatsApp emulator run in processes of their own. The time is from approval to the last
delivery recorded, and per channel from approval to that channel's last ``sent_at``. The
emulators' logs give throttling, lost and duplicated messages per channel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.databases import engine_table
from bench.whatsapp_broadcast import bench_engines, linked_roster, recorded_spans, timed_post
from bot.emulators.telegram.runner import EmulatorProcess as TelegramProcess
from bot.emulators.telegram.world import FIRST_USER_ID
from bot.emulators.whatsapp.runner import EmulatorProcess as WhatsAppProcess
from bot.emulators.whatsapp.world import FIRST_WA_ID
from db.delivery.pace import cap_for

ASN = int(os.environ.get("GAUNG_BENCH_BOTH_ASN", "8000"))
HALF = ASN // 2
TG_RATE, WA_RATE = 30.0, 80.0
TARGET = 1.05 * max(HALF / TG_RATE, (ASN - HALF) / WA_RATE)
SEQUENTIAL = HALF / TG_RATE + (ASN - HALF) / WA_RATE
TG_TOKEN = "123456:BENCH-TOKEN"
WA_TOKEN = "EAAG-BENCH-TOKEN"
PHONE_ID = "106540352242922"


def populate(url: str) -> None:
    """The first half of the roster on WhatsApp only (window closed), the rest on Telegram."""

    def identity(k: int) -> tuple[str, str]:
        if k < HALF:
            return "whatsapp", str(FIRST_WA_ID + k)
        return "telegram", str(FIRST_USER_ID + k - HALF)

    linked_roster(url, ASN, seed=31, identity=identity)


def worker(
    url: str, tg: TelegramProcess, wa: WhatsAppProcess, folder: Path
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "GAUNG_DATABASE_URL": url,
        "GAUNG_TELEGRAM_TOKEN": TG_TOKEN,
        "GAUNG_TELEGRAM_API_URL": tg.url,
        "GAUNG_TELEGRAM_RATE": str(TG_RATE),
        "GAUNG_WHATSAPP_TOKEN": WA_TOKEN,
        "GAUNG_WHATSAPP_PHONE_ID": PHONE_ID,
        "GAUNG_WHATSAPP_API_URL": wa.url,
        "GAUNG_WHATSAPP_RATE": str(WA_RATE),
        "GAUNG_WHATSAPP_DAILY_LIMIT": "10000",
    }
    log = (folder / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"], env=env, stdout=log, stderr=log, cwd=folder
    )


def telegram_seen(tg: TelegramProcess) -> tuple[int, int, int, int]:
    """(requests, 429s, lost, duplicated) of the Telegram half."""
    calls: dict[str, int] = tg.op("stats")["calls"]
    sends = {k.split()[1]: v for k, v in calls.items() if k.startswith("sendMessage ")}
    counts: dict[str, int] = tg.op("delivered_counts")
    per_user = [counts.get(str(FIRST_USER_ID + n), 0) for n in range(ASN - HALF)]
    lost = sum(1 for n in per_user if n == 0)
    duplicated = sum(n - 1 for n in per_user if n > 1)
    return sum(sends.values()), sends.get("429", 0), lost, duplicated


def engine_run(name: str, url: str, folder: Path) -> str:
    populate(url)
    tg = TelegramProcess(token=TG_TOKEN)
    wa = WhatsAppProcess(
        token=WA_TOKEN, phone_id=PHONE_ID, rate=WA_RATE, messaging_limit=10000, pair_rate=1,
        pair_burst=5,
    )  # fmt: skip
    try:
        tg.op("add_users", count=ASN - HALF)
        wa.op("add_users", count=HALF)
        timed = timed_post(
            url,
            lambda: worker(url, tg, wa, folder),
            "https://instagram.com/p/dua",
            limit=4 * TARGET,
        )
        post_id, queued, counts, wall, done = (
            timed.post_id, timed.queued, timed.counts, timed.wall, timed.done
        )  # fmt: skip
        (cpu,), load = timed.cpu, timed.load
        spans = recorded_spans(url, post_id)
        tg_requests, tg_429, tg_lost, tg_dupes = telegram_seen(tg)
        wa_stats = wa.op("stats")
    finally:
        tg.close()
        wa.close()
    wa_calls = wa_stats["calls"]
    wa_requests, wa_429 = sum(wa_calls.values()), wa_calls.get("130429", 0)
    wa_lost = HALF - wa_stats["users_with_messages"]
    wa_dupes = wa_stats["users_with_duplicates"]
    clean = tg_lost == wa_lost == 0 and tg_dupes == wa_dupes == 0
    met = wall <= TARGET and clean and done >= queued
    line = (
        f"| {name} | {queued:,} | {wall:.1f} s | {TARGET:.0f} s | {SEQUENTIAL:.0f} s | "
        f"{spans.get('telegram', float('nan')):.1f} s | {spans.get('whatsapp', float('nan')):.1f} s"
        f" | {tg_requests:,} / {tg_429} | {wa_requests:,} / {wa_429} | "
        f"{tg_lost + wa_lost} | {tg_dupes + wa_dupes} | {counts.get('failed', 0)} | "
        f"{cpu:.1f} s | {load:.1f} | {'yes' if met else 'NO'} |"
    )
    print(line, flush=True)
    return line


def run() -> list[str]:
    engines = bench_engines()
    folder = Path(tempfile.mkdtemp(prefix="gaung-wa-both-"))
    intro = [
        "## Both channels at once: 8,000 ASN, half on WhatsApp only, half on Telegram only "
        "(issue 13)",
        "",
        f"One post to {ASN:,} ASN: {HALF:,} reachable only on WhatsApp (every one outside the "
        f"24-hour window: templates, tier 10,000, 80/s) and {ASN - HALF:,} only on Telegram "
        "(30/s, the emulator's default limiter). One `gaung worker` holds both channels; the two "
        "emulators and the worker run in their own processes on the same 2-core machine. Wall: "
        "approval to the last delivery recorded (the rows' own timestamps, the clock started once "
        "the worker runs); per channel: approval to that channel's last "
        f"`sent_at`. Target: ≤ 1.05 × the slower channel's limit-implied time "
        f"({HALF:,} / 30 s⁻¹ → {TARGET:.0f} s), well under the {SEQUENTIAL:.0f} s of sending one "
        "channel after the other; none lost or duplicated. Each pace aims below its rate "
        f"(`db/delivery/pace.py` `cap_for`: Telegram {100 * cap_for('telegram', TG_RATE):g} %, "
        f"WhatsApp {100 * cap_for('whatsapp', WA_RATE):g} %), so Telegram's half cannot take "
        f"less than {HALF / (cap_for('telegram', TG_RATE) * TG_RATE):.0f} s. "
        "PostgreSQL runs durable (`bench/databases.py`). "
        "Requests / throttled: 429 for Telegram, 130429 for WhatsApp. CPU: the worker's during "
        "the run; load: the 1-minute load average (2 cores) — other sessions share the machine.",
    ]
    columns = (
        "engine | deliveries | wall | target | one after the other | Telegram done | "
        "WhatsApp done | Telegram requests / 429 | WhatsApp requests / 130429 | lost | "
        "duplicated | failed | worker CPU | load | target met"
    )
    return engine_table(intro, columns, lambda name, url: [engine_run(name, url, folder)], engines)
