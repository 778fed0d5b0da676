"""Wiring from settings: which channels exist and how fast each may send."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine

from bot.broadcast import ReminderPolicy, WorkerConfig
from bot.channels.base import Channel
from bot.channels.links import open_links_for
from bot.channels.telegram import TelegramChannel
from bot.whatsapp.sender import WhatsAppChannel
from bot.whatsapp.tier import TierLimitedChannel
from db.errors import Invalid
from db.settings import Settings


def use_db_threads(threads: int = 32) -> None:
    """Database work runs in threads (``asyncio.to_thread``); the default pool of a 2-core
    machine has 6, too few when taps, replies and the broadcaster all wait on the database."""
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gaung-db")
    )


def build_channels(settings: Settings, engine: Engine | None = None) -> dict[str, Channel]:
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
    if not channels:
        raise Invalid("tidak ada saluran: atur GAUNG_TELEGRAM_TOKEN atau GAUNG_WHATSAPP_TOKEN")
    return channels


# --- WhatsApp (issue 13): kept apart so the channel registry can take it over as one piece ---


def whatsapp_sender(settings: Settings) -> WhatsAppChannel | None:
    """The number's sender, or None when WhatsApp is not configured."""
    if not (settings.whatsapp_token and settings.whatsapp_phone_id):
        return None
    return WhatsAppChannel(
        settings.whatsapp_token,
        settings.whatsapp_phone_id,
        api_url=settings.whatsapp_api_url,
        template=settings.whatsapp_template,
        template_language=settings.whatsapp_template_language,
        connections=max(16, min(256, int(settings.whatsapp_rate / 4) + 8)),
    )


def build_whatsapp(settings: Settings, engine: Engine | None) -> Channel | None:
    """The broadcast channel: the sender behind the messaging-limit tier (needs the database)."""
    sender = whatsapp_sender(settings)
    if sender is None:
        return None
    if engine is None:
        return sender
    return TierLimitedChannel(sender, engine, settings.whatsapp_daily_limit)


def channel_rates(settings: Settings) -> dict[str, float]:
    return {"telegram": settings.telegram_rate, "whatsapp": settings.whatsapp_rate}


def worker_config(settings: Settings, *, reminders: bool = True) -> WorkerConfig:
    policy = (
        ReminderPolicy(
            delay=timedelta(hours=settings.reminder_delay_hours),
            tz=settings.tz,
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
        )
        if reminders
        else None
    )
    return WorkerConfig(
        max_attempts=settings.delivery_max_attempts,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        reminders=policy,
    )
