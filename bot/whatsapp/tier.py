"""The messaging-limit tier around the WhatsApp channel: templates only while the tier allows.

Meta counts the unique users a business reaches *outside* a customer-service window per
moving 24 hours (250 / 2,000 / 10,000 / 100,000 / unlimited). A broadcast larger than the tier
must not ask Meta to refuse the rest: each out-of-window post first reserves its recipient in
the database (``db.delivery.whatsapp.reserve_reach``, shared by every worker), and what does not
fit is ``Deferred`` to the moment a slot frees, visibly pending (deferred) in the progress.
Messages inside a window are free of the tier and go at once.

Reservations are group-committed: the sends of the moment wait together for one transaction
(``reserve_reach_many``) rather than one durable commit each, which on durable PostgreSQL
held a broadcast well under the 80/s the number allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine

from bot.channels.base import Deferred, OutgoingPost
from bot.whatsapp.sender import WhatsAppChannel
from db.delivery.whatsapp import reserve_reach_many
from db.engine import session_scope
from db.types import utcnow


class TierLimitedChannel:
    """A ``Channel``: ``WhatsAppChannel`` behind the configured tier (0 = no cap)."""

    name = "whatsapp"

    def __init__(
        self,
        inner: WhatsAppChannel,
        engine: Engine,
        limit: int,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.inner = inner
        self.engine = engine
        self.limit = limit
        self.clock = clock
        self._waiting: list[tuple[int, asyncio.Future[datetime | None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._ahead: dict[int, asyncio.Future[datetime | None]] = {}

    def prepare(self, messages: Sequence[OutgoingPost]) -> None:
        """Reserve, in one transaction, the reach of posts about to wait for their send slots.

        At 80/s the sends came one by one, so each reservation was a transaction of its own
        that counted the day's reach again (8,000 counts over a growing day for one
        broadcast); the broadcaster hands over each claimed batch here instead. Each send
        then finds its answer ready (``send_post``); a reach reserved a second earlier is the
        same reach.
        """
        if self.limit <= 0:
            return
        for message in messages:
            if not message.window_open and message.delivery_id not in self._ahead:
                self._ahead[message.delivery_id] = self._join(message.delivery_id)

    async def send_post(self, message: OutgoingPost) -> str:
        if not message.window_open and self.limit > 0:
            until = await self._reserve(message.delivery_id)
            if until is not None:
                raise Deferred(
                    f"batas harian WhatsApp ({self.limit} penerima di luar jendela 24 jam) "
                    "tercapai; dikirim setelah kuota terbuka",
                    until,
                )
        return await self.inner.send_post(message)

    async def _reserve(self, delivery_id: int) -> datetime | None:
        """This delivery's answer: reserved ahead (``prepare``), or in the next transaction."""
        future = self._ahead.pop(delivery_id, None) or self._join(delivery_id)
        return await future

    def _join(self, delivery_id: int) -> asyncio.Future[datetime | None]:
        """Join the next reservation transaction; the future of this delivery's answer."""
        future: asyncio.Future[datetime | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery_id, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def _flush(self) -> None:
        """While reservations wait: take them all, one transaction; those arriving meanwhile
        go in the next (group commit, no timer: a lone send waits for no one)."""
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                answers = await asyncio.to_thread(self._reserve_many, [d for d, _ in batch])
            except Exception as exc:  # every send of the batch fails as the broadcaster's retry
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for delivery_id, future in batch:
                if not future.done():
                    future.set_result(answers.get(delivery_id))

    def _reserve_many(self, delivery_ids: list[int]) -> dict[int, datetime | None]:
        with session_scope(self.engine) as session:
            return reserve_reach_many(session, delivery_ids, limit=self.limit, now=self.clock())

    async def aclose(self) -> None:
        await self.inner.aclose()
