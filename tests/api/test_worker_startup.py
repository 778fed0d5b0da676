"""``gaung worker`` starts sending without loading what sending does not need.

A worker is often started just as a post is approved, and every module it imports before its
first claim delays the first send (``bench/broadcast.py``: the cold start was 2.1 s of a paid
broadcast's 10 s). The conversation framework, the HTTP stack of the other calls, the feed
parser, the progress bar, the dashboard's and the exports' libraries are imported later, where
they are used. This checks the modules, not a timing: a module that creeps back onto the path
fails it whatever the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys

# What the worker's path to its first claim must not import: top-level packages, and modules.
NOT_ON_THE_PATH = (
    "telegram",  # python-telegram-bot: the notifier, built once sending has caught up
    "httpx",  # the channel's other calls (getMe); posts go through bot.channels.wire
    "httpcore",
    "anyio",
    "feedparser",  # the feed poller, a duty started after sending
    "phonenumbers",  # the notifier's admin lookup
    "pywa",  # WhatsApp, not configured here
    "fastapi",
    "starlette",
    "jinja2",
    "openpyxl",
    "alembic.script",  # heads are read by `ready`, before; not again here
    "rich.progress",  # `gaung broadcast --wait` only
    "bot.feeds",
    "bot.recap",
    "bot.clarification",
    "bot.conversation.notifier",
)

START = """
import json, sys
from api.cli import app  # what `python -m api.cli worker` runs
import api.logs
from api.broadcasting import run_worker
from bot.channels.registry import build_registry
from db.engine import make_engine
from db.settings import Settings

settings = Settings(
    database_url="sqlite://",
    telegram_token="123456:START",
    telegram_api_url="https://api.telegram.example",
    telegram_rate=1000,
    telegram_paid_broadcast=True,
)
engine = make_engine(settings.database_url)
registry = build_registry(settings, engine)
registry.broadcaster(worker_id="start")
print(json.dumps(sorted(sys.modules)))
"""


def test_the_worker_path_to_its_first_claim_imports_only_what_sending_needs() -> None:
    done = subprocess.run(
        [sys.executable, "-c", START], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(done.stdout))
    wrong = sorted(
        name
        for name in NOT_ON_THE_PATH
        if name in loaded or any(m.startswith(f"{name}.") for m in loaded)
    )
    assert not wrong, f"imported on the worker's start-up path: {wrong}"
    # The check itself works: what sending needs is there.
    assert {"bot.broadcast", "bot.channels.wire", "db.delivery.outbox"} <= loaded
