"""Set-up shared by the commands (channels, pacers, workers: ``bot.channels.registry``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


def use_db_threads(threads: int = 32) -> None:
    """Database work runs in threads (``asyncio.to_thread``); the default pool of a 2-core
    machine has 6, too few when taps, replies and the broadcaster all wait on the database."""
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gaung-db")
    )
