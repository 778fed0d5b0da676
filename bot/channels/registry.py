"""The channel registry: channels, their pacers and the broadcaster, built in one place.

``gaung serve``, ``gaung worker``, ``gaung bot`` and ``gaung broadcast --wait`` all start here,
so they cannot drift apart: each process gets one pacer per channel, drawing on the bot's one
budget in the database (``bot.ratelimit.SharedLedger``), and the chat replies of the process
share that pacer with its broadcaster.

The WhatsApp modules (and pywa, a third of a second of start-up) are imported only when the
settings configure WhatsApp: most processes, and the tests' many, speak Telegram alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from bot.broadcast import Broadcaster, ReminderPolicy, WorkerConfig
from bot.channels.base import Channel
from bot.channels.links import open_links_for
from bot.channels.telegram import TelegramChannel
from bot.ratelimit import Pacer, shared_pacer
from db.errors import Invalid
from db.settings import Settings
from db.types import utcnow

if TYPE_CHECKING:
    from bot.conversation.notifier import Notifier
    from bot.whatsapp.sender import WhatsAppChannel

log = logging.getLogger("gaung.registry")


def channel_rates(settings: Settings) -> dict[str, float]:
    """The ceilings: the most each channel may send per second, whoever sends."""
    return {"telegram": settings.telegram_rate, "whatsapp": settings.whatsapp_rate}


def worker_config(settings: Settings, *, reminders: bool = True) -> WorkerConfig:
    soonest = min(settings.reminder_delay_hours, settings.clarification_reminder_hours)
    policy = (
        ReminderPolicy(
            delay=timedelta(hours=settings.reminder_delay_hours),
            tz=settings.tz,
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
            # Look for due reminders often enough that a short delay (the demo's) is honoured.
            poll=min(30.0, max(1.0, soonest * 360)),
            clarification_delay=timedelta(hours=settings.clarification_reminder_hours),
            per_week=settings.reminders_per_week,
        )
        if reminders
        else None
    )
    return WorkerConfig(
        time_budget=timedelta(hours=settings.delivery_time_budget_hours),
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        reminders=policy,
        stop_grace=settings.worker_stop_seconds,
    )


def build_channels(settings: Settings, engine: Engine | None = None) -> dict[str, Channel]:
    """The broadcast channels the settings configure (none: an empty dict)."""
    channels: dict[str, Channel] = {}
    if settings.telegram_token:
        channels["telegram"] = TelegramChannel(
            settings.telegram_token,
            settings.telegram_api_url,
            paid_broadcast=settings.telegram_paid_broadcast,
            connections=max(16, min(256, int(settings.telegram_rate / 4) + 8)),
            open_links=open_links_for(settings),
        )
    if whatsapp := build_whatsapp(settings, engine):
        channels["whatsapp"] = whatsapp
    return channels


def whatsapp_configured(settings: Settings) -> bool:
    """Whether the settings name a WhatsApp number to send from (token and phone id)."""
    return bool(settings.whatsapp_token and settings.whatsapp_phone_id)


def whatsapp_sender(settings: Settings) -> WhatsAppChannel | None:
    """The number's sender, or None when WhatsApp is not configured."""
    if not (settings.whatsapp_token and settings.whatsapp_phone_id):
        return None
    from bot.whatsapp.sender import WhatsAppChannel

    return WhatsAppChannel(
        settings.whatsapp_token,
        settings.whatsapp_phone_id,
        api_url=settings.whatsapp_api_url,
        template=settings.whatsapp_template,
        template_language=settings.whatsapp_template_language,
        notice_template=settings.whatsapp_notice_template,
        connections=max(16, min(256, int(settings.whatsapp_rate / 4) + 8)),
    )


def build_whatsapp(settings: Settings, engine: Engine | None) -> Channel | None:
    """The broadcast channel: the sender behind the messaging-limit tier (needs the database)."""
    sender = whatsapp_sender(settings)
    if sender is None:
        return None
    if engine is None:
        return sender
    from bot.whatsapp.tier import TierLimitedChannel

    return TierLimitedChannel(sender, engine, settings.whatsapp_daily_limit)


@dataclass
class ChannelRegistry:
    """What one process needs to send: close it with ``aclose`` when the process stops."""

    settings: Settings
    engine: Engine
    channels: dict[str, Channel]
    pacers: dict[str, Pacer]
    _closed: bool = field(default=False, repr=False)
    _bots: list[Any] = field(default_factory=list, repr=False)
    _senders: list[WhatsAppChannel] = field(default_factory=list, repr=False)

    def require_channels(self) -> None:
        if not self.channels:
            raise Invalid("tidak ada saluran: atur GAUNG_TELEGRAM_TOKEN atau GAUNG_WHATSAPP_TOKEN")

    def broadcaster(
        self,
        *,
        post_id: int | None = None,
        reminders: bool = True,
        clock: Callable[[], datetime] = utcnow,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
    ) -> Broadcaster:
        """A delivery worker of this process, on this process's pacers."""
        self.require_channels()
        return Broadcaster(
            self.engine,
            self.channels,
            channel_rates(self.settings),
            config=config or worker_config(self.settings, reminders=reminders),
            clock=clock,
            post_id=post_id,
            pacers=self.pacers,
            worker_id=worker_id,
        )

    async def notifier(self) -> Notifier:
        """A notifier for a process without a chat service of its own (``gaung worker``): it
        reaches admins on every configured channel, through this process's pacers.

        Imported here, as python-telegram-bot is: a worker builds it once sending has begun."""
        from bot.conversation.notifier import Notifier

        notifier = Notifier(self.engine)
        token = self.settings.telegram_token
        if token and "telegram" in self.pacers:
            from telegram.ext import ExtBot

            from bot.telegram.ratelimit import PacerRateLimiter
            from bot.telegram.render import TelegramOutbound

            bot: ExtBot[None] = ExtBot(
                token,
                base_url=f"{self.settings.telegram_api_url}/bot",
                rate_limiter=PacerRateLimiter(self.pacers["telegram"]),
            )
            try:
                await bot.initialize()
            except Exception as exc:  # Telegram away: notices to it are logged and skipped
                log.warning("notifier without Telegram: %s", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await bot.shutdown()
            else:
                self._bots.append(bot)
                notifier.add("telegram", TelegramOutbound(bot))
        sender = whatsapp_sender(self.settings)
        if sender is not None and "whatsapp" in self.pacers:
            from bot.whatsapp.render import WhatsAppOutbound

            self._senders.append(sender)
            outbound = WhatsAppOutbound(sender, self.pacers["whatsapp"], engine=self.engine)
            notifier.add("whatsapp", outbound)
        return notifier

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for bot in self._bots:
            await bot.shutdown()
        for sender in self._senders:
            await sender.aclose()
        for channel in self.channels.values():
            await channel.aclose()
        for pacer in self.pacers.values():
            await pacer.aclose()


def build_registry(settings: Settings, engine: Engine) -> ChannelRegistry:
    """Channels and pacers from the settings; every pacer draws on the bot's shared budget."""
    rates = channel_rates(settings)
    pacers: dict[str, Pacer] = {}
    if settings.telegram_token:
        pacers["telegram"] = shared_pacer(engine, "telegram", rates["telegram"])
    if whatsapp_configured(settings):
        pacers["whatsapp"] = shared_pacer(engine, "whatsapp", rates["whatsapp"])
    return ChannelRegistry(settings, engine, build_channels(settings, engine), pacers)
