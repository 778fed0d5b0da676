"""Building the python-telegram-bot ``Application``: handlers, pacing, commands, transports."""

from __future__ import annotations

import logging
import re

from sqlalchemy import Engine
from telegram import BotCommand, Update
from telegram.error import Forbidden
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.ratelimit import Pacer
from bot.telegram import admin, asn
from bot.telegram.common import CHANNEL, Context, in_db, reply
from bot.telegram.ratelimit import PacerRateLimiter
from bot.texts import th
from db.accounts.identities import identity_for, mark_inbound
from db.settings import Settings

log = logging.getLogger("gaung.telegram")
URL = re.compile(r"^\s*\S+://\S+\s*$|^\s*(www\.)?[\w-]+(\.[\w-]+)+/\S*\s*$", re.IGNORECASE)
NIP_LIKE = re.compile(r"^[\d\s.\-]{15,30}$")
COMMANDS = ("start", "status", "bantuan", "berhenti", "hapus")


def build_application(
    settings: Settings, engine: Engine, pacer: Pacer, *, polling: bool = False
) -> Application:  # type: ignore[type-arg]
    assert settings.telegram_token
    request = HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=15)
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
    install_handlers(application)
    return application


def install_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(ChatMemberHandler(asn.chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(CommandHandler("start", asn.start, filters=private))
    application.add_handler(CommandHandler("status", asn.status, filters=private))
    application.add_handler(CommandHandler("bantuan", help_command, filters=private))
    application.add_handler(CommandHandler("help", help_command, filters=private))
    application.add_handler(CommandHandler("berhenti", asn.stop, filters=private))
    application.add_handler(CommandHandler("hapus", asn.erase_prompt, filters=private))
    application.add_handler(CommandHandler("laporan", admin.report, filters=private))
    application.add_handler(CommandHandler("dashboard", admin.dashboard, filters=private))
    application.add_handler(CallbackQueryHandler(asn.tap, pattern=r"^g1:"))
    application.add_handler(CallbackQueryHandler(asn.erase_answer, pattern=r"^h:"))
    application.add_handler(CallbackQueryHandler(admin.registration_button, pattern=r"^r:"))
    application.add_handler(CallbackQueryHandler(admin.submission_button, pattern=r"^p:"))
    application.add_handler(CallbackQueryHandler(admin.review_button, pattern=r"^a:"))
    application.add_handler(CallbackQueryHandler(refuse_button))
    application.add_handler(MessageHandler(private & filters.CONTACT, asn.contact))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, text))
    application.add_handler(MessageHandler(private, fallback))
    application.add_error_handler(on_error)


async def text(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    body = message.text
    await touch(update, context)
    if await admin.pending_state(update, context, body):
        return
    if URL.match(body) and await admin.link(update, context, body.strip()):
        return
    if URL.match(body):
        return  # a non-admin's link: link() already answered
    if NIP_LIKE.match(body) and sum(ch.isdigit() for ch in body) >= 15:
        await asn.nip(update, context, body)
        return
    await fallback(update, context)


async def touch(update: Update, context: Context) -> None:
    """Someone who writes to us is reachable again (and their WhatsApp-style window restarts)."""
    user = update.effective_user
    if user is None:
        return
    user_id = str(user.id)

    def work(session: object) -> None:
        from sqlmodel import Session

        assert isinstance(session, Session)
        identity = identity_for(session, CHANNEL, user_id)
        if identity is not None:
            mark_inbound(session, identity)

    await in_db(context, work)


async def help_command(update: Update, context: Context) -> None:
    user = update.effective_user

    def is_admin(session: object) -> bool:
        from sqlmodel import Session

        from db.accounts.admins import admin_by_telegram_id

        assert isinstance(session, Session)
        return user is not None and admin_by_telegram_id(session, user.id) is not None

    extra = th("help.admin") if await in_db(context, is_admin) else ""
    await reply(update, th("help") + extra)


async def fallback(update: Update, context: Context) -> None:
    await reply(update, th("unknown"))


async def refuse_button(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(th("tap.refused"))


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
