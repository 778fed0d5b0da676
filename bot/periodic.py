"""The one loop of ``gaung worker``'s periodic duties (feeds, recaps, the retention purge).

Each duty is a round run every so often until the worker stops. A failed round is logged and
skipped, never the end of the loop: the worker's other duties and the next round go on. A
database outage is expected (a warning, no traceback); anything else is a bug (the traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("gaung.periodic")


async def repeat(
    round_: Callable[[], Awaitable[int]], stop: asyncio.Event, *, every: float, name: str
) -> int:
    """Run ``round_`` at once, then every ``every`` seconds, until ``stop`` is set (which ends
    the wait at once); returns the sum of what the rounds returned (messages sent, passes…)."""
    total = 0
    while not stop.is_set():
        try:
            total += await round_()
        except SQLAlchemyError as exc:
            log.warning("%s skipped: %s", name, type(exc).__name__)
        except Exception:  # a bug in one round must not end the worker's other duties
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
    return total
