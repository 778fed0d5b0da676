"""Periodic chores of ``gaung worker`` beside the delivery loop: the retention purge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from bot.periodic import repeat
from db.accounts.retention import Purged, purge_expired
from db.engine import session_scope
from db.types import utcnow

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 6 * 3600.0


def purge_once(engine: Engine, months: int, now: datetime) -> Purged:
    with session_scope(engine) as session:
        return purge_expired(session, months=months, now=now)


async def retention_loop(
    engine: Engine,
    months: int,
    stop: asyncio.Event,
    *,
    interval: float = PURGE_INTERVAL_SECONDS,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Purge at start, then every ``interval`` seconds, until ``stop``; returns the passes run.

    Several workers may run it at once: each pass is one transaction over rows that only
    ever leave, so a second pass finds nothing to do. A failed pass (a database outage) is
    logged and skipped rather than ending the worker (``bot.periodic``).
    """

    async def one_pass() -> int:
        purged = await asyncio.to_thread(purge_once, engine, months, clock())
        if purged.anything:
            log.info("retention purge: %s", purged.as_dict())
        return 1

    return await repeat(one_pass, stop, every=interval, name="retention purge")
