"""Telegram updates into conversation actions, and the conversation's answers back.

Everything python-telegram-bot knows about the conversations is here: who sent an update, what
they did (``action_of``), and how an ``Outcome`` is shown (edits of the pressed message,
toasts, keyboards). The conversations themselves are in ``bot.conversation``.
"""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.conversation import choices
from bot.conversation import replies as said
from bot.conversation.commands import reachable
from bot.conversation.flows import Settings, handle
from bot.conversation.notifier import Notifier
from bot.conversation.replies import Outcome, Person, Pressed
from bot.telegram.common import CHANNEL, Context, in_db, settings_of
from bot.telegram.render import inline_keyboard, send
from bot.texts import as_html, th

ANSWER_WITHIN = 2.0  # seconds before a tap is answered "being recorded"


def person_of(update: Update) -> Person | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    name = f"{user.full_name} (@{user.username})" if user.username else user.full_name
    return Person(CHANNEL, str(user.id), str(chat.id), name or str(user.id))


def action_of(update: Update) -> said.Action | None:
    if update.callback_query is not None:
        return Pressed(update.callback_query.data or "")
    message = update.effective_message
    if message is None:
        return None
    if message.contact is not None:
        owner = message.contact.user_id
        return said.Contact(message.contact.phone_number, str(owner) if owner is not None else None)
    if message.text is not None:
        body = message.text
        if body.startswith("/"):  # "/start", "/status@GaungBot payload"
            words = body[1:].split(maxsplit=1)
            args = words[1].strip() if len(words) > 1 else ""
            return said.Command(words[0].split("@")[0].lower() if words else "", args)
        return said.Text(body)
    return said.Other()


async def on_update(update: Update, context: Context) -> None:
    """A private message or any button press, answered through the conversation core."""
    person, action = person_of(update), action_of(update)
    if person is None or action is None:
        return
    settings = Settings.of(settings_of(context))
    if isinstance(action, Pressed) and choices.parse_tap(action.data) is not None:
        await tap(update, context, person, action)
        return
    outcome = await in_db(context, lambda s: handle(s, person, action, settings))
    await show(update, context, outcome)


async def tap(update: Update, context: Context, person: Person, action: Pressed) -> None:
    """A Like/Share tap by long polling: recorded once, answered at once; the buttons are
    redrawn by ``ButtonRedrawer``. (By webhook, taps are recorded in the inbox's commit.)"""
    query = update.callback_query
    assert query is not None
    # The person's app spins until the answer: under load, answer within a moment and let
    # the recording finish behind it rather than let the query expire unanswered.
    recording = asyncio.ensure_future(in_db(context, lambda s: handle(s, person, action)))
    try:
        outcome = await asyncio.wait_for(asyncio.shield(recording), ANSWER_WITHIN)
    except TimeoutError:
        await query.answer(th("tap.pending"))
        outcome = await recording
    else:
        await query.answer(outcome.answer)
    if outcome.redraw and "redraw" in context.bot_data:
        context.bot_data["redraw"]()


async def show(update: Update, context: Context, outcome: Outcome) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(outcome.answer)
    chat = update.effective_chat
    for reply in outcome.replies:
        if reply.replace and query is not None and query.message is not None:
            await query.edit_message_text(
                as_html(reply.text), parse_mode="HTML", reply_markup=inline_keyboard(reply)
            )
        elif chat is not None:
            await send(context.bot, chat.id, reply)
    if outcome.notices:
        notifier: Notifier = context.bot_data["notifier"]
        await notifier.tell(outcome.notices)
    if outcome.redraw and "redraw" in context.bot_data:
        context.bot_data["redraw"]()


async def chat_member(update: Update, context: Context) -> None:
    """``kicked``: the user blocked the bot; ``member``: they came back."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    person = Person(CHANNEL, str(change.from_user.id), str(change.chat.id))
    status_now = change.new_chat_member.status
    if status_now == "kicked":
        await in_db(context, lambda s: reachable(s, person, False, "blocked the bot"))
    elif status_now == "member":
        await in_db(context, lambda s: reachable(s, person, True))
