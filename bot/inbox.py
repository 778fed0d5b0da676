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

On PostgreSQL two transactions overlap (``overlap``): the writer stages a batch (runs its
statements) while the batch before waits for its commit, then commits it in turn; commits stay
in batch order and each update is answered only after its own. With one transaction at a time,
requests arriving during a batch only queued, and the clients split into two cohorts taking
turns. Timeline of one durable run on main (load 8 on two cores, 32 connections, 1 status per
POST): 1,052 batches, 16 updates each on average, statements 11.1 ms, commit 2.9 ms, the
transaction mostly ``idle in transaction`` waiting for this process (``pg_stat_activity``: 1,135
samples in ClientRead, 464 in WALSync): a batch's latency, not the disk, bound the rate. The
writer also keeps its PostgreSQL connections between batches (``KEEP``): a checkout from the
pool cost a pre-ping round trip and the pool's bookkeeping each time, a tenth of the writer's
samples. Same
run, before/after/after/before against main (``GAUNG_BENCH_WA_BASELINE``, load 10-15):
330 → 701 status events/s (2.13 ×), server CPU per event 0.50 → 0.40 ms.

A batch with taps is not overlapped: it bumps the participation counters, the very rows the
batch before holds until its commit, so staged beside that commit it only waited for their
lock, in smaller batches. Closed-loop taps on durable PostgreSQL fell 2,007 → 1,687/s with
the overlap; with taps one transaction at a time again, same run against main (load 3-4):
1,804 → 2,093/s, p99 of the open loop at 1,000/s 149 → 87 ms.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from db.delivery.confirmations import Tap, TapResult, record_taps
from db.delivery.inbox import store_updates
from db.delivery.whatsapp import StatusUpdate, store_statuses
from db.engine import unreachable

log = logging.getLogger("gaung.inbox")
BATCH = 256
LIMIT = 8192  # waiting updates: about 8 s of the 1,000 taps/s one process takes
COOLDOWN = 2.0  # seconds of answering 503 at once after the database was found away
SWITCH_INTERVAL = 0.0005  # seconds a thread waits for the GIL before the holder must let go
KEEP = 5.0  # seconds a connection stays with the writer between batches, unchecked


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
Staged = tuple[Session, list[Receipt]]  # a batch's open transaction and its receipts
_In = TypeVar("_In")
_Out = TypeVar("_Out")


class InboxWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        redraw: frozenset[str] = frozenset(),
        on_redraw: Callable[[], None] | None = None,
        limit: int = LIMIT,
        cooldown: float = COOLDOWN,
        overlap: bool | None = None,
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.cooldown = cooldown
        # Stage a batch while the one before waits for its commit: on PostgreSQL unless told
        # (SQLite has one writer at a time, and its commit does not wait for the disk).
        self.overlap = engine.dialect.name == "postgresql" if overlap is None else overlap
        self._away_until = 0.0  # monotonic time until which the database counts as away
        self.redraw = redraw  # channels whose sent buttons are redrawn after a tap
        self.on_redraw = on_redraw  # told after a commit that queued redraws
        self._queue: asyncio.Queue[Waiting | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        # Connections kept between batches: on PostgreSQL, where a checkout pings the server.
        self.keep = engine.dialect.name == "postgresql"
        self._kept: list[tuple[Connection, float]] = []  # idle connections, when last used
        self._kept_lock = threading.Lock()

    def start(self) -> None:
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        # Two threads: one stages a batch while the other waits for the previous one's commit.
        self._thread = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gaung-inbox")
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
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for connection, _ in kept:
            connection.close()

    async def _in_thread(self, work: Callable[[_In], _Out], arg: _In) -> _Out:
        """``work(arg)`` in the writer's own threads: never queued behind other database work
        of the process (the shared pool's threads can all be busy with redraws or replies)."""
        assert self._thread is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, arg)

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
        committing: asyncio.Task[None] | None = None
        try:
            while not closing:
                first = await self._queue.get()
                if first is None:
                    break
                batch = [first]
                closing = self._drain(batch)
                if self.overlap and not any(item.tap for item, _ in batch):
                    committing = await self._overlapped(batch, committing)
                else:
                    if committing is not None:  # in commit order, after the batch before
                        await committing
                        committing = None
                    self._answer(batch, await self._store([item for item, _ in batch]))
        finally:
            if committing is not None:
                await committing

    def _drain(self, batch: list[Waiting]) -> bool:
        """Move what is waiting into ``batch`` (up to ``BATCH``); True when told to stop."""
        while len(batch) < BATCH and not self._queue.empty():
            waiting = self._queue.get_nowait()
            if waiting is None:
                return True
            batch.append(waiting)
        return False

    async def _store(self, items: list[Incoming]) -> list[Receipt | None]:
        """``items`` written in one transaction; None for each one not stored."""
        try:
            receipts: list[Receipt | None] = list(await self._in_thread(self._write, items))
        except Exception as exc:
            return await self._recover(items, exc)
        self._away_until = 0.0
        return receipts

    async def _overlapped(
        self, batch: list[Waiting], committing: asyncio.Task[None] | None
    ) -> asyncio.Task[None] | None:
        """Stage ``batch`` (its statements run, its transaction open) while the batch before
        waits for its commit (``committing``), then commit it in turn: returns the task that
        does. A durable commit waits for the disk to flush the WAL; with one transaction at a
        time, the next batch only queued meanwhile, and throughput was bound by the latency of
        a batch plus its flush, not by CPU (issue 13).

        No deadlock can come of it: the batch before holds its locks only while it commits,
        never waiting for a lock itself, so this batch at worst waits for that commit. Commits
        stay in batch order, one at a time, and each update is answered after its own."""
        items = [item for item, _ in batch]
        try:
            staged = await self._in_thread(self._stage, items)
        except Exception as exc:
            if committing is not None:  # the retries one by one run alone, as without overlap
                await committing
            self._answer(batch, await self._recover(items, exc))
            return None
        if committing is not None:
            await committing
        return asyncio.create_task(self._finish(batch, staged))

    async def _finish(self, batch: list[Waiting], staged: Staged) -> None:
        """Commit a staged batch and answer it. A failed commit refuses the whole batch (each
        update is sent again): it is never a single bad update, which fails its statement."""
        session, receipts = staged
        try:
            await self._in_thread(self._commit, session)
        except Exception as exc:
            self._answer(batch, self._refused(len(batch), exc))
            return
        self._away_until = 0.0
        self._answer(batch, list(receipts))

    async def _recover(self, items: list[Incoming], exc: Exception) -> list[Receipt | None]:
        """After a batch failed: refuse it whole when the database is away, else write each
        update on its own, so that one bad update does not fail the others."""
        if unreachable(exc) or len(items) == 1:
            return self._refused(len(items), exc, items[0].update_id)
        receipts: list[Receipt | None] = []
        for item in items:
            try:
                receipts += await self._in_thread(self._write, [item])
            except Exception:
                log.exception("storing update %s failed", item.update_id)
                receipts.append(None)
        return receipts

    def _refused(self, count: int, exc: Exception, update_id: str = "") -> list[Receipt | None]:
        """``count`` updates not stored because of ``exc``; the database away starts the
        cooldown of refusing at once."""
        if unreachable(exc):
            self._away_until = time.monotonic() + self.cooldown
            log.warning("database unreachable (%s): %d updates refused", type(exc).__name__, count)
        elif count == 1 and update_id:
            log.error("storing update %s failed", update_id, exc_info=exc)
        else:
            log.error("storing %d updates failed", count, exc_info=exc)
        return [None] * count

    def _answer(self, batch: list[Waiting], receipts: list[Receipt | None]) -> None:
        items = [item for item, _ in batch]
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
        """``items`` staged and committed: one transaction."""
        session, receipts = self._stage(items)
        self._commit(session)
        return receipts

    def _stage(self, items: list[Incoming]) -> Staged:
        """Every statement of ``items`` run in a new transaction, left open for the commit:
        the session and the receipts (valid once it commits)."""
        receipts: list[Receipt | None] = [None] * len(items)
        session = Session(self._connection(), expire_on_commit=False)
        try:
            for channel in sorted({item.channel for item in items}):
                mine = [(n, item) for n, item in enumerate(items) if item.channel == channel]
                updates = [
                    (i.update_id, None if i.tap or i.status or i.kept else i.payload)
                    for _, i in mine
                ]
                statuses = [(i.update_id, i.status) for _, i in mine if i.status is not None]
                if statuses:  # stored and applied together (one statement on PostgreSQL)
                    new = store_statuses(session, channel, updates, statuses)
                else:
                    new = store_updates(session, channel, updates)
                taps: list[tuple[int, Tap]] = []
                for n, item in mine:
                    if item.update_id not in new:
                        receipts[n] = Receipt(False)
                        continue
                    new.discard(item.update_id)  # a second copy in the batch is a redelivery
                    if item.tap is None:
                        receipts[n] = Receipt(True)
                    else:
                        taps.append((n, item.tap))
                results = record_taps(
                    session, channel, [tap for _, tap in taps], redraw=channel in self.redraw
                )
                for (n, _), result in zip(taps, results, strict=True):
                    receipts[n] = Receipt(True, result)
            session.flush()
        except BaseException:
            self._release(session, ok=False)
            raise
        assert all(r is not None for r in receipts)
        return session, [r for r in receipts if r is not None]

    def _commit(self, session: Session) -> None:
        """Commit a staged batch (waiting for the WAL's flush on PostgreSQL) and let it go."""
        try:
            session.commit()
        except BaseException:
            self._release(session, ok=False)
            raise
        self._release(session, ok=True)

    def _connection(self) -> Connection:
        """A connection kept from a recent batch, else one from the pool. Taking one from the
        pool costs a round trip (``pool_pre_ping``) and the pool's bookkeeping for every batch:
        a tenth of the writer thread's time under a burst (issue 13). A connection idle longer
        than ``KEEP`` goes back through the pool, which checks that it still works."""
        if not self.keep:
            return self.engine.connect()
        now = time.monotonic()
        with self._kept_lock:
            kept, self._kept = self._kept, []
        fresh = [(connection, since) for connection, since in kept if now - since < KEEP]
        for connection, since in kept:
            if now - since >= KEEP:
                connection.close()
        if fresh:
            with self._kept_lock:
                self._kept += fresh[1:]
            return fresh[0][0]
        return self.engine.connect()

    def _release(self, session: Session, *, ok: bool) -> None:
        """After a batch: its connection is kept for the next one, unless the batch failed
        (rolled back, and given back to the pool, which drops a broken connection)."""
        connection = session.bind
        assert isinstance(connection, Connection)
        if not ok:
            session.rollback()
        session.close()
        if self.keep and ok and not connection.invalidated and not connection.closed:
            with self._kept_lock:
                self._kept.append((connection, time.monotonic()))
        else:
            connection.close()
