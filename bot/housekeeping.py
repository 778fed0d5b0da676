"""Periodic chores of ``gaung worker`` beside the delivery loop: the retention purge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

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
    ever leave, so a second pass finds nothing to do. A database outage skips a pass (logged)
    rather than ending the worker.
    """
    passes = 0
    while not stop.is_set():
        try:
            purged = await asyncio.to_thread(purge_once, engine, months, clock())
            passes += 1
            if purged.anything:
                log.info("retention purge: %s", purged.as_dict())
        except SQLAlchemyError as exc:
            log.warning("retention purge skipped: %s", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    return passes
