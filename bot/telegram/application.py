"""Building the python-telegram-bot ``Application``: handlers, pacing, commands, transports.

Every private message and every button press goes to ``adapter.on_update``, which hands it to
the conversation core; only a block/unblock (``my_chat_member``) has its own handler.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from telegram import BotCommand, Update
from telegram.error import Forbidden
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.conversation.flows import COMMANDS
from bot.conversation.notifier import Notifier
from bot.ratelimit import Pacer
from bot.telegram import adapter
from bot.telegram.common import CHANNEL, Context
from bot.telegram.ratelimit import PacerRateLimiter, withhold_late
from bot.telegram.render import TelegramOutbound
from bot.texts import th
from db.settings import Settings

log = logging.getLogger("gaung.telegram")


def build_application(
    settings: Settings,
    engine: Engine,
    pacer: Pacer,
    *,
    polling: bool = False,
    notifier: Notifier | None = None,
) -> Application:  # type: ignore[type-arg]
    """``notifier``: the one every channel shares, when the caller has one; Telegram's
    outbound is added to it."""
    assert settings.telegram_token
    request = HTTPXRequest(
        connection_pool_size=32,
        read_timeout=15,
        write_timeout=15,
        httpx_kwargs={"event_hooks": {"request": [withhold_late]}},
    )
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(f"{settings.telegram_api_url}/bot")
        .base_file_url(f"{settings.telegram_api_url}/file/bot")
        .request(request)
        .rate_limiter(PacerRateLimiter(pacer))
        .concurrent_updates(64)
    )
    if polling:
        builder = builder.get_updates_request(HTTPXRequest(read_timeout=40))
    else:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["engine"] = engine
    application.bot_data["settings"] = settings
    notifier = notifier or Notifier(engine)
    notifier.add(CHANNEL, TelegramOutbound(application.bot))
    application.bot_data["notifier"] = notifier
    install_handlers(application)
    return application


def install_handlers(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(
        ChatMemberHandler(adapter.chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(CallbackQueryHandler(adapter.on_update))
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE, adapter.on_update))
    application.add_error_handler(on_error)


async def on_error(update: object, context: Context) -> None:
    """Log the trace for us; tell the person something short in Indonesian, never the trace."""
    log.error("error handling update", exc_info=context.error)
    if isinstance(context.error, Forbidden):
        return
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, th("error"))
        except Exception:  # the chat may be gone; nothing more to do
            log.warning("could not tell the user about the error")


async def set_commands(application: Application) -> None:  # type: ignore[type-arg]
    await application.bot.set_my_commands(
        [BotCommand(name, th(f"cmd.{name}")) for name in COMMANDS], language_code=None
    )
