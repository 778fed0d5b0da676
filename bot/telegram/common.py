"""What every handler needs: the database from ``bot_data``, run off the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from db.accounts.registration import set_reachable
from db.engine import session_scope
from db.models import Channel
from db.settings import Settings

log = logging.getLogger("gaung.telegram")
T = TypeVar("T")
CHANNEL = Channel.TELEGRAM.value
Context = ContextTypes.DEFAULT_TYPE


def engine_of(context: Context) -> Engine:
    engine: Engine = context.bot_data["engine"]
    return engine


def settings_of(context: Context) -> Settings:
    settings: Settings = context.bot_data["settings"]
    return settings


async def in_db(context: Context, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction, in a thread: SQLAlchemy here is synchronous."""
    engine = engine_of(context)

    def run() -> T:
        with session_scope(engine) as session:
            return work(session)

    return await asyncio.to_thread(run)


def sender(update: Update) -> tuple[str, str] | None:
    """(user id, chat id) of a private chat's sender, as strings."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    return str(user.id), str(chat.id)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, parse_mode=ParseMode.HTML, **kwargs)


async def notify(context: Context, chat_id: int | str, text: str, **kwargs: Any) -> bool:
    """A message Gaung starts (to an admin, to an ASN about a decision): a block is noted."""
    try:
        await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, **kwargs)
    except Forbidden as exc:
        reason = exc.message
        await in_db(context, lambda s: set_reachable(s, CHANNEL, str(chat_id), False, reason))
        return False
    except TelegramError as exc:
        log.warning("could not notify %s: %s", chat_id, exc)
        return False
    return True
