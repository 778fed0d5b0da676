"""The channel interface: what the broadcaster needs from Telegram, WhatsApp or anything else.

A channel turns a post into one message for one chat and classifies every failure into the few
kinds the broadcaster acts on; it never touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OutgoingPost:
    delivery_id: int
    chat_id: str
    url: str
    caption: str | None
    platform: str
    opd_nama: str
    confirmed: frozenset[str] = field(default_factory=frozenset)
    reminder: bool = False
    # WhatsApp only: the recipient wrote to us in the last 24 hours, so a free-form message with
    # reply buttons may be sent; otherwise only an approved template (see bot/whatsapp/sender.py).
    window_open: bool = False


class SendError(Exception):
    """Base of the failures a channel reports; ``reason`` is kept on the delivery."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(SendError):
    """The channel asked the whole sender to wait (Telegram 429, WhatsApp 130429)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RecipientRateLimited(RateLimited):
    """Too many messages to this one recipient (WhatsApp 131056, the pair rate limit): only
    this recipient waits ``retry_after``; the sender itself goes on with everyone else."""


class Deferred(SendError):
    """Not now, and not the channel's fault: this message waits until ``until`` (a WhatsApp
    messaging-limit tier that is full for today); the channel itself keeps sending others."""

    def __init__(self, reason: str, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


class Unreachable(SendError):
    """This recipient cannot be reached (blocked, deactivated, unknown chat): never retry."""


class Transient(SendError):
    """Might work later: 5xx, timeouts, dropped connections."""


class Rejected(SendError):
    """The channel refused this message for good (bad request)."""


class Misconfigured(SendError):
    """Nothing will work until an operator acts (bad token): pause, keep every delivery."""


class Channel(Protocol):
    name: str

    async def send_post(self, message: OutgoingPost) -> str:
        """Send and return the channel's message id, or raise a ``SendError``."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class StrictLimit(Protocol):
    """A channel whose limiter may punish bunched writes and writes during a flood wait
    (Telegram's is assumed so: at most N in any second, a wait that grows with every send
    during it). Its broadcast sends are written within their slot's tolerance or take a new
    slot (``bot.broadcast``, ``bot.channels.wire.may_write``). Other channels keep the slot
    they were given: WhatsApp's throughput limit answers 130429 without a growing wait, and
    withholding late writes there only burnt slots (8,000 at 1,000/s took 65-178 s, not 9)."""

    strict_limit: bool


@runtime_checkable
class Prepares(Protocol):
    """A channel that may also do work once per claimed batch, before the sends wait for
    their slots (the WhatsApp tier reserves the batch's reach in one transaction)."""

    def prepare(self, messages: Sequence[OutgoingPost]) -> None: ...
