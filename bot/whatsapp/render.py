"""A conversation ``Reply`` as WhatsApp messages, within Meta's limits.

WhatsApp has no message edits and no inline URL buttons beside reply buttons: a link goes in
the body as text, choices become reply buttons (at most 3 per message, titles at most 20
characters, bodies with buttons at most 1,024 characters), and more choices than 3 continue in
a second message. "Ask for the contact" needs no widget: the network vouches for the number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import datetime

from sqlalchemy import Engine

from bot.channels.base import RateLimited
from bot.conversation.replies import Reply
from bot.ratelimit import Pacer, Priority
from bot.texts import as_plain, as_whatsapp, th
from bot.whatsapp.sender import (
    MAX_BODY,
    MAX_BUTTON_TITLE,
    MAX_BUTTONS,
    MAX_TEXT,
    PairRateLimited,
    WhatsAppChannel,
)
from bot.whatsapp.webhook import window_open
from db.delivery.whatsapp import last_inbound_of
from db.engine import session_scope
from db.types import utcnow

ELLIPSIS = "…"
Message = tuple[str, list[tuple[str, str]]]  # body, (id, title) reply buttons


def title(label: str) -> str:
    """A reply button's title: plain, at most 20 characters (cut with an ellipsis)."""
    plain = label.strip()
    if len(plain) <= MAX_BUTTON_TITLE:
        return plain
    return plain[: MAX_BUTTON_TITLE - 1].rstrip() + ELLIPSIS


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def messages(reply: Reply) -> list[Message]:
    """The messages that show ``reply``: text first, then its choices three at a time."""
    body = as_whatsapp(reply.text)
    flat = [button for row in reply.buttons for button in row]
    links = [f"{b.label}: {b.url}" for b in flat if b.url]
    if links:
        body = body + "\n\n" + "\n".join(links)
    choices = [(b.data, title(b.label)) for b in flat if b.data and not b.url]
    if not choices:
        return [(cut(body, MAX_TEXT), [])]
    groups = [choices[i : i + MAX_BUTTONS] for i in range(0, len(choices), MAX_BUTTONS)]
    out: list[Message] = []
    if len(body) > MAX_BODY:  # too long to carry buttons: the text alone, then the choices
        out.append((cut(body, MAX_TEXT), []))
        body = as_plain(th("wa.more_choices"))
    out.append((body, groups[0]))
    out.extend((as_plain(th("wa.more_choices")), group) for group in groups[1:])
    return out


def notice_text(reply: Reply) -> str:
    """A notice as the notice template's one parameter: its text, and the choices it offers
    named (a template cannot carry them as buttons) with how to get them."""
    body, _ = messages(reply)[0]
    labels = [title(b.label) for row in reply.buttons for b in row if b.data and not b.url]
    if labels:
        body += " " + as_whatsapp(th("wa.notice_choices", choices=", ".join(labels)))
    return body


@dataclass(eq=False)
class WhatsAppOutbound:
    """The notifier's (and the adapter's) way to WhatsApp: paced by the number's one budget.

    With ``engine``, a notice (``deliver``) first asks when the person last wrote: outside
    their 24-hour window free-form text is accepted by Meta and then fails (131047), so it goes
    as the approved notice template instead. Conversation replies (``send``) answer someone
    who just wrote, inside the window.
    """

    sender: WhatsAppChannel
    pacer: Pacer
    _: KW_ONLY
    engine: Engine | None = None
    clock: Callable[[], datetime] = utcnow

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        if self.engine is not None and not await asyncio.to_thread(self._window_open, chat_id):
            text = notice_text(reply)
            await self._paced(chat_id, lambda: self.sender.send_notice(chat_id, text))
            return
        for body, buttons in messages(reply):
            await self.send(chat_id, body, buttons)

    def _window_open(self, chat_id: str) -> bool:
        assert self.engine is not None
        with session_scope(self.engine, readonly=True) as session:
            return window_open(last_inbound_of(session, chat_id), self.clock())

    async def send(self, chat_id: str, body: str, buttons: list[tuple[str, str]]) -> None:
        """One free-form message (see ``_paced``)."""
        await self._paced(chat_id, lambda: self.sender.send_text(chat_id, body, buttons))

    async def _paced(self, chat_id: str, call: Callable[[], Awaitable[str]]) -> None:
        """One message, retried after a throughput or pair-rate wait (never dropped on a 429);
        ``Unreachable`` goes up to the notifier, which marks the account."""
        for attempt in range(4):
            await self.pacer.acquire(chat_id, Priority.REPLY)
            try:
                await call()
            except PairRateLimited as exc:  # this one person only: wait for them, not the number
                if attempt == 3:
                    raise
                await asyncio.sleep(exc.retry_after)
                continue
            except RateLimited as exc:
                self.pacer.on_rate_limited(exc.retry_after)
                if attempt == 3:
                    raise
                continue
            self.pacer.on_success()
            return
