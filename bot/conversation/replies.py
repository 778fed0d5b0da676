"""What a person did, who they are, and what Gaung says back: the words every channel shares.

Adapters build ``Person`` and an action from a channel's update and render ``Outcome`` in the
channel's widgets (Telegram: inline and reply keyboards, edits, toasts; WhatsApp: reply
buttons, lists). Nothing here is specific to one network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.texts import Markup, th


@dataclass(frozen=True)
class Person:
    """Who did something: their account on a channel and the chat to answer in."""

    channel: str
    external_id: str  # Telegram user id, WhatsApp number
    chat_id: str
    name: str = ""  # how the network shows them, for an admin deciding their request
    # The number the network itself vouches for (WhatsApp: the sender's ``wa_id``); None where
    # the network hides it (Telegram, a WhatsApp username). A vouched number lets a person
    # register by agreeing, with no contact to share.
    phone: str | None = None


# --- what a person did ---


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Contact:
    phone: str
    owner: str | None  # the account the shared contact belongs to, when the network says


@dataclass(frozen=True)
class Pressed:
    data: str  # the button's data, in ``choices`` format


@dataclass(frozen=True)
class Command:
    name: str  # ``start`` for ``/start``: without the slash, lower case
    args: str = ""  # what follows the command (``/klarifikasi 42``: ``42``)


@dataclass(frozen=True)
class Other:
    """Any other message (a photo, a sticker): Gaung does not understand it."""


Action = Text | Contact | Pressed | Command | Other


# --- what Gaung says ---


@dataclass(frozen=True)
class Button:
    """A choice (``data`` in ``choices`` format) or a link (``url``); ``label`` is plain text."""

    label: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    text: Markup
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows
    ask_contact: bool = False  # offer a control that shares the person's own number
    close_keyboard: bool = False  # that control is no longer needed
    replace: bool = False  # answers a button by replacing the message it was on, if possible
    # Carries a credential (a sign-in link): the network must not fetch or preview its links.
    no_preview: bool = False


@dataclass(frozen=True)
class Address:
    """One chat account of someone else to tell something."""

    channel: str
    external_id: str
    chat_id: str


@dataclass(frozen=True)
class Notice:
    to: Address
    reply: Reply


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)  # for the ``Notifier``
    answer: str | None = None  # a pressed button's short acknowledgement (plain text)
    redraw: bool = False  # a tap was recorded: the post's buttons are due a redraw


def say(person: Person | str, key: str, **values: Any) -> Markup:
    """A catalogue text for someone on a channel (``{kanal}`` names that channel)."""
    channel = person if isinstance(person, str) else person.channel
    return th(key, kanal=th(f"kanal.{channel}"), **values)


def one(text: Markup, *rows: tuple[Button, ...], **options: bool) -> Outcome:
    """An outcome of a single reply."""
    return Outcome([Reply(text, tuple(rows), **options)])
