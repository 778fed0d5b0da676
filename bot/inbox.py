"""The webhook inbox writer: every update stored (and every tap recorded) before its 200.

A webhook request waits for its update's commit, never for the update's handling. One writer
task takes whatever requests are waiting, stores them in one transaction and records the taps
among them in that same transaction, then answers them all. A transaction costs about the same
for one update as for a hundred, so under a burst the batches grow instead of the queue.

When the database is away the webhook must answer 503 at once, so that Telegram keeps the
update and retries later, rather than hold thousands of requests open: the queue is bounded
(``limit`` waiting updates; beyond it, ``NotStored`` at once), and after a write fails because
the database is unreachable, new updates are refused at once for ``cooldown`` seconds and the
failed batch is not retried update by update (each retry would wait for the database again).
Nothing here logs an update's content: only its id.

The writer's thread gives up the GIL on every round trip to the database and must get it back
from the event loop, which under a burst is busy parsing and answering requests. Python hands
the GIL to a waiting thread only after ``sys.getswitchinterval()`` (5 ms by default), so a batch
of ten round trips could wait 50 ms for the GIL alone, and every request in it with it: the
writer therefore asks for a shorter interval (``SWITCH_INTERVAL``) when it starts.

The writer has a thread of its own: in the process's shared pool (``bot.runtime``) its batch
queued behind whatever else was waiting there, such as a burst of the button redrawer's
per-chat reservations (32 at a time), and every request of the batch waited with it. Measured
on durable PostgreSQL in the same run (``GAUNG_BENCH_WEBHOOK_BASELINE``, load 9-12 on two
cores): 545 → 1,153 taps/s in the closed loop, server CPU per tap 0.63 → 0.43 ms.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from db.delivery.confirmations import Tap, TapResult, record_taps
from db.delivery.inbox import store_updates
from db.delivery.whatsapp import StatusUpdate, apply_statuses
from db.engine import session_scope, unreachable

log = logging.getLogger("gaung.inbox")
BATCH = 256
LIMIT = 8192  # waiting updates: about 8 s of the 1,000 taps/s one process takes
COOLDOWN = 2.0  # seconds of answering 503 at once after the database was found away
SWITCH_INTERVAL = 0.0005  # seconds a thread waits for the GIL before the holder must let go


class NotStored(RuntimeError):
    """The update is not in the inbox: the webhook must not answer 2xx, so Telegram resends."""


@dataclass(frozen=True)
class Incoming:
    channel: str
    update_id: str
    payload: dict[str, Any]
    tap: Tap | None = None  # a Like/Share tap: recorded now, not handled later
    status: StatusUpdate | None = None  # a delivery status (WhatsApp): applied now, in the batch
    kept: bool = False  # stored handled, only to recognise a redelivery (nothing to do with it)


@dataclass(frozen=True)
class Receipt:
    new: bool  # False: a redelivery, already stored
    tap: TapResult | None = None


Waiting = tuple[Incoming, "asyncio.Future[Receipt]"]


class InboxWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        redraw: frozenset[str] = frozenset(),
        on_redraw: Callable[[], None] | None = None,
        limit: int = LIMIT,
        cooldown: float = COOLDOWN,
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.cooldown = cooldown
        self._away_until = 0.0  # monotonic time until which the database counts as away
        self.redraw = redraw  # channels whose sent buttons are redrawn after a tap
        self.on_redraw = on_redraw  # told after a commit that queued redraws
        self._queue: asyncio.Queue[Waiting | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None

    def start(self) -> None:
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gaung-inbox")
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Write what is waiting, then stop."""
        task, self._task = self._task, None
        if task is not None:
            await self._queue.put(None)
            await task
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)

    async def _in_thread(self, items: list[Incoming]) -> list[Receipt]:
        """``_write`` in the writer's own thread: never queued behind other database work of
        the process (the shared pool's threads can all be busy with redraws or replies)."""
        assert self._thread is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, items)

    async def submit(self, item: Incoming) -> Receipt:
        """Resolves once the update is committed; raises if it could not be stored."""
        if self._task is None:
            raise NotStored("inbox writer not running")
        if time.monotonic() < self._away_until:
            raise NotStored("database unreachable")
        if self._queue.qsize() >= self.limit:
            raise NotStored("inbox full")
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))  # unbounded: the limit is checked above
        return await future

    async def _run(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            closing = self._drain(batch)
            await self._write_batch(batch)

    def _drain(self, batch: list[Waiting]) -> bool:
        """Move what is waiting into ``batch`` (up to ``BATCH``); True when told to stop."""
        while len(batch) < BATCH and not self._queue.empty():
            waiting = self._queue.get_nowait()
            if waiting is None:
                return True
            batch.append(waiting)
        return False

    async def _write_batch(self, batch: list[Waiting]) -> None:
        items = [item for item, _ in batch]
        receipts: list[Receipt | None]
        try:
            receipts = list(await self._in_thread(items))
            self._away_until = 0.0
        except Exception as exc:
            if unreachable(exc):
                self._away_until = time.monotonic() + self.cooldown
                log.warning(
                    "database unreachable (%s): %d updates refused", type(exc).__name__, len(items)
                )
                receipts = [None] * len(items)
            elif len(items) == 1:
                log.exception("storing update %s failed", items[0].update_id)
                receipts = [None]
            else:  # one bad update must not fail the others: each again, on its own
                receipts = []
                for item in items:
                    try:
                        receipts += await self._in_thread([item])
                    except Exception:
                        log.exception("storing update %s failed", item.update_id)
                        receipts.append(None)
        for (_, future), receipt in zip(batch, receipts, strict=True):
            if future.done():  # the request went away
                continue
            if receipt is None:
                future.set_exception(NotStored("update not stored"))
            else:
                future.set_result(receipt)
        recorded = any(r and r.tap for r in receipts)
        if recorded and self.on_redraw is not None and self.redraw & {i.channel for i in items}:
            self.on_redraw()

    def _write(self, items: list[Incoming]) -> list[Receipt]:
        receipts: list[Receipt | None] = [None] * len(items)
        with session_scope(self.engine) as session:
            for channel in sorted({item.channel for item in items}):
                mine = [(n, item) for n, item in enumerate(items) if item.channel == channel]
                new = store_updates(
                    session,
                    channel,
                    [
                        (i.update_id, None if i.tap or i.status or i.kept else i.payload)
                        for _, i in mine
                    ],
                )
                taps: list[tuple[int, Tap]] = []
                statuses: list[StatusUpdate] = []
                for n, item in mine:
                    if item.update_id not in new:
                        receipts[n] = Receipt(False)
                        continue
                    new.discard(item.update_id)  # a second copy in the batch is a redelivery
                    if item.status is not None:
                        statuses.append(item.status)
                        receipts[n] = Receipt(True)
                    elif item.tap is None:
                        receipts[n] = Receipt(True)
                    else:
                        taps.append((n, item.tap))
                apply_statuses(session, statuses)
                results = record_taps(
                    session, channel, [tap for _, tap in taps], redraw=channel in self.redraw
                )
                for (n, _), result in zip(taps, results, strict=True):
                    receipts[n] = Receipt(True, result)
        assert all(r is not None for r in receipts)
        return [r for r in receipts if r is not None]
