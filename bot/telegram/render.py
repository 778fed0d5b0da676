"""A conversation ``Reply`` in Telegram's widgets: HTML text, inline or reply keyboards."""

from __future__ import annotations

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode
from telegram.error import Forbidden

from bot.channels.base import Unreachable
from bot.conversation.replies import Reply
from bot.texts import as_html, th

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=b.data)
                for b in row
            ]
            for row in reply.buttons
        ]
    )


def keyboard(reply: Reply) -> Markup | None:
    """The markup of a new message: buttons, else the share-contact control, else its removal."""
    if reply.buttons:
        return inline_keyboard(reply)
    if reply.ask_contact:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(th("button.share_contact"), request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if reply.close_keyboard:
        return ReplyKeyboardRemove()
    return None


async def send(bot: Bot, chat_id: int | str, reply: Reply) -> None:
    await bot.send_message(
        chat_id,
        as_html(reply.text),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(reply),
        # Telegram's servers fetch a link to preview it: a sign-in link must not be spent so.
        link_preview_options=LinkPreviewOptions(is_disabled=True) if reply.no_preview else None,
    )


class TelegramOutbound:
    """The notifier's way to Telegram."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        try:
            await send(self.bot, chat_id, reply)
        except Forbidden as exc:
            raise Unreachable(exc.message) from None
