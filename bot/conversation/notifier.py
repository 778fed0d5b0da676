"""The one way Gaung tells someone something they did not just ask for: an OPD admin about a
NIP request, Diskominfo about a new post, a submitter or an ASN about a decision.

Each channel plugs in an ``Outbound`` that renders a ``Reply`` in its widgets and sends it; a
notice for a channel without one is logged and skipped. A recipient who blocked Gaung is
marked unreachable, as the broadcaster does, so nothing more is sent there until they write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import Engine

from bot.channels.base import Unreachable
from bot.conversation.replies import Notice, Reply
from db.accounts.registration import set_reachable
from db.engine import session_scope

log = logging.getLogger("gaung.notifier")


class Outbound(Protocol):
    async def deliver(self, chat_id: str, reply: Reply) -> None:
        """Send ``reply`` to ``chat_id``; raise ``Unreachable`` when the person blocked us."""


class Notifier:
    def __init__(self, engine: Engine, outbound: dict[str, Outbound] | None = None) -> None:
        self.engine = engine
        self.outbound: dict[str, Outbound] = dict(outbound or {})

    def add(self, channel: str, outbound: Outbound) -> None:
        self.outbound[channel] = outbound

    async def tell(self, notices: Iterable[Notice]) -> int:
        """Send each notice; returns how many went out. Never raises for one recipient."""
        sent = 0
        for notice in notices:
            to = notice.to
            out = self.outbound.get(to.channel)
            if out is None:
                # Never the chat id: on WhatsApp it is the person's phone number (issue 12).
                log.warning("no %s channel to tell a recipient", to.channel)
                continue
            try:
                await out.deliver(to.chat_id, notice.reply)
            except Unreachable as exc:
                await asyncio.to_thread(self._unreachable, to.channel, to.external_id, exc.reason)
            except Exception as exc:  # one recipient's failure must not stop the others
                log.warning("could not tell a %s recipient: %s", to.channel, type(exc).__name__)
            else:
                sent += 1
        return sent

    def _unreachable(self, channel: str, external_id: str, reason: str) -> None:
        with session_scope(self.engine) as session:
            set_reachable(session, channel, external_id, False, reason)
