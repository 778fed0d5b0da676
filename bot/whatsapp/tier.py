"""The messaging-limit tier around the WhatsApp channel: templates only while the tier allows.

Meta counts the unique users a business reaches *outside* a customer-service window per
moving 24 hours (250 / 2,000 / 10,000 / 100,000 / unlimited). A broadcast larger than the tier
must not ask Meta to refuse the rest: each out-of-window post first reserves its recipient in
the database (``db.delivery.whatsapp.reserve_reach``, shared by every worker), and what does not
fit is ``Deferred`` to the moment a slot frees, visibly pending (deferred) in the progress.
Messages inside a window are free of the tier and go at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from bot.channels.base import Deferred, OutgoingPost
from bot.whatsapp.sender import WhatsAppChannel
from db.delivery.whatsapp import reserve_reach
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

    async def send_post(self, message: OutgoingPost) -> str:
        if not message.window_open and self.limit > 0:
            until = await asyncio.to_thread(self._reserve, message.delivery_id)
            if until is not None:
                raise Deferred(
                    f"batas harian WhatsApp ({self.limit} penerima di luar jendela 24 jam) "
                    "tercapai; dikirim setelah kuota terbuka",
                    until,
                )
        return await self.inner.send_post(message)

    def _reserve(self, delivery_id: int) -> datetime | None:
        with session_scope(self.engine) as session:
            return reserve_reach(session, delivery_id, limit=self.limit, now=self.clock())

    async def aclose(self) -> None:
        await self.inner.aclose()
