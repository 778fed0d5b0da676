"""The Telegram adapter's two translations: an update into a conversation action, and a
conversation reply into Telegram's widgets."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update

from bot.conversation.replies import Button, Command, Contact, Other, Person, Pressed, Reply, Text
from bot.telegram.adapter import action_of, person_of
from bot.telegram.render import keyboard
from bot.texts import Markup

USER = {"id": 7, "is_bot": False, "first_name": "Ani", "last_name": "S", "username": "ani"}
CHAT = {"id": 7, "type": "private"}


def message(**fields: Any) -> Update:
    payload = {"message_id": 1, "date": 1764547200, "chat": CHAT, "from": USER, **fields}
    return Update.de_json({"update_id": 1, "message": payload}, None)


def test_updates_become_actions_of_a_person() -> None:
    assert person_of(message(text="halo")) == Person("telegram", "7", "7", "Ani S (@ani)")
    assert action_of(message(text="halo")) == Text("halo")
    assert action_of(message(text="/status@GaungBot lagi")) == Command("status", "lagi")
    assert action_of(message(text="/klarifikasi  42 ")) == Command("klarifikasi", "42")
    assert action_of(message(text="/START")) == Command("start")
    assert action_of(message(text="/")) == Command("")
    contact = {"phone_number": "+62812", "first_name": "Ani", "user_id": 7}
    assert action_of(message(contact=contact)) == Contact("+62812", "7")
    anonymous = {"phone_number": "62812", "first_name": "B"}
    assert action_of(message(contact=anonymous)) == Contact("62812", None)
    sticker = {
        "file_id": "s",
        "file_unique_id": "s",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    assert action_of(message(sticker=sticker)) == Other()
    query = {"id": "q", "from": USER, "chat_instance": "c", "data": "g1:5:l"}
    assert action_of(Update.de_json({"update_id": 2, "callback_query": query}, None)) == Pressed(
        "g1:5:l"
    )


def test_replies_become_keyboards() -> None:
    text = Markup("x")
    assert keyboard(Reply(text)) is None
    assert isinstance(keyboard(Reply(text, close_keyboard=True)), ReplyKeyboardRemove)
    ask = keyboard(Reply(text, ask_contact=True))
    assert isinstance(ask, ReplyKeyboardMarkup)
    assert ask.keyboard[0][0].request_contact and "Bagikan nomor saya" in ask.keyboard[0][0].text
    rows = ((Button("A", "h:y"), Button("B", "h:n")), (Button("Buka", url="https://x.id/p"),))
    inline = keyboard(Reply(text, rows, close_keyboard=True))
    assert isinstance(inline, InlineKeyboardMarkup)
    assert [[(b.text, b.callback_data, b.url) for b in row] for row in inline.inline_keyboard] == [
        [("A", "h:y", None), ("B", "h:n", None)],
        [("Buka", None, "https://x.id/p")],
    ]
