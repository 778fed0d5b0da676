"""Bot API methods over the emulated world: parameters in, a ``result`` or an ``ApiError`` out.

Parameters arrive as the real server accepts them (query string, form, multipart or JSON), so
scalars may be strings and nested objects JSON text; each method coerces what it reads.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from bot.emulators.telegram.world import (
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    Bot,
    Message,
    World,
    bad_request,
)
from db.settings import is_loopback

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
WEBHOOK_PORTS = (443, 80, 88, 8443)
HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip
# Methods that send or change a message: Telegram counts these against the bot's limits.
MESSAGE_METHODS = {"sendmessage", "sendphoto", "editmessagetext", "editmessagereplymarkup"}

Params = dict[str, Any]
Method = Callable[[World, Bot, Params], Any]


# ----- coercion -----------------------------------------------------------------------------
def _obj(params: Params, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def _int(params: Params, name: str, *, required: bool = False, default: int = 0) -> int:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


# ----- formatting ---------------------------------------------------------------------------
class _EntityParser(HTMLParser):
    """Telegram's HTML subset: known tags only, properly nested; yields the plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.plain: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS and self.error is None:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if (not self.stack or self.stack[-1] != tag) and self.error is None:
            self.error = f'Unmatched end tag "{tag}"'
        elif self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.plain.append(data)


def render(text: str, parse_mode: str | None) -> str:
    """The text a user sees, or the 400 Telegram gives for malformed markup."""
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        parser = _EntityParser()
        parser.feed(text)
        parser.close()
        if parser.error is None and parser.stack:
            parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        if parser.error:
            raise bad_request(f"can't parse entities: {parser.error}")
        return html.unescape("".join(parser.plain))
    if mode in ("markdown", "markdownv2"):
        return text
    raise bad_request("unsupported parse_mode")


def _markup(params: Params) -> dict[str, Any] | None:
    markup = _obj(params, "reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    rows = markup.get("inline_keyboard")
    if rows is not None:
        for row in rows:
            for button in row:
                _check_button(button)
    return markup


def _check_button(button: dict[str, Any]) -> None:
    if not button.get("text"):
        raise bad_request("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    if (
        data is None
        and url is None
        and not any(
            k in button for k in ("login_url", "switch_inline_query", "web_app", "copy_text")
        )
    ):
        raise bad_request('can\'t find field "callback_data"')


# ----- chats and messages -------------------------------------------------------------------
def _recipient(world: World, params: Params) -> int:
    raw = params.get("chat_id")
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    try:
        chat_id = int(raw)
    except (TypeError, ValueError):
        raise bad_request("chat not found") from None
    user = world.users.get(chat_id)
    if user is None:
        raise bad_request("chat not found")
    if user.deactivated:
        raise ApiError(403, "Forbidden: user is deactivated")
    if user.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    if not user.started:
        raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
    return chat_id


def _bot_message(world: World, params: Params) -> Message:
    if params.get("inline_message_id"):
        raise bad_request("message to edit not found")
    chat_id = _int(params, "chat_id", required=True)
    message_id = _int(params, "message_id", required=True)
    history = world.chats.get(chat_id)
    if history is None:
        raise bad_request("chat not found")
    if not 0 < message_id <= len(history) or not history[message_id - 1].from_bot:
        raise bad_request("message to edit not found")
    return history[message_id - 1]


def _editable(world: World, params: Params) -> Message:
    """A bot message that may be edited now: not in the chat of someone who blocked the bot
    (Telegram answers an edit there as it answers a send: 403)."""
    message = _bot_message(world, params)
    user = world.users.get(message.chat_id)
    if user is not None and user.deactivated:
        raise ApiError(403, "Forbidden: user is deactivated")
    if user is not None and user.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    return message


def _message_text(params: Params, too_long: str) -> tuple[str, str]:
    """The ``text`` as sent and as shown, refused as Telegram does when empty or too long
    (``too_long``: the two methods word that error differently)."""
    raw = _text(params, "text")
    if not raw or not raw.strip():
        raise bad_request("message text is empty")
    text = render(raw, _text(params, "parse_mode"))
    if len(text) > MAX_TEXT:
        raise bad_request(too_long)
    return raw, text


def send_message(world: World, bot: Bot, params: Params) -> Any:
    raw, text = _message_text(params, "message is too long")
    chat_id = _recipient(world, params)
    markup = _markup(params)
    world.charge(bot, chat_id, paid=_bool(params, "allow_paid_broadcast"))
    fields: dict[str, Any] = {"text": text}
    preview = _obj(params, "link_preview_options")
    if isinstance(preview, dict):
        fields["link_preview_options"] = preview
    message = world.post(
        chat_id, from_bot=True, fields=fields, sender=bot.as_user(), markup=markup, html=raw
    )
    return message.data


def send_photo(world: World, bot: Bot, params: Params) -> Any:
    photo = params.get("photo")
    if not photo:
        raise bad_request("there is no photo in the request")
    chat_id = _recipient(world, params)
    caption = render(_text(params, "caption") or "", _text(params, "parse_mode"))
    if len(caption) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    markup = _markup(params)
    world.charge(bot, chat_id, paid=_bool(params, "allow_paid_broadcast"))
    file_id = f"AgAC{abs(hash(str(photo))) % 10**12}"
    fields: dict[str, Any] = {
        "photo": [{"file_id": file_id, "file_unique_id": file_id[-8:], "width": 1280,
                   "height": 720}],
    }  # fmt: skip
    if caption:
        fields["caption"] = caption
    message = world.post(chat_id, from_bot=True, fields=fields, sender=bot.as_user(), markup=markup)
    return message.data


def _edited(world: World, bot: Bot, message: Message, fields: dict[str, Any],
            markup: dict[str, Any] | None) -> Any:  # fmt: skip
    new_data = {k: v for k, v in message.data.items() if k not in ("reply_markup", "edit_date")}
    new_data.update(fields)
    if markup is not None and "inline_keyboard" in markup:
        new_data["reply_markup"] = markup
    old_markup = message.data.get("reply_markup")
    if all(new_data.get(k) == message.data.get(k) for k in fields) and (
        new_data.get("reply_markup") == old_markup
    ):
        raise NOT_MODIFIED
    world.charge(bot, message.chat_id, paid=False)
    new_data["edit_date"] = int(time.time())
    message.data = new_data
    message.markup = new_data.get("reply_markup")
    message.edits += 1
    return new_data


def edit_message_text(world: World, bot: Bot, params: Params) -> Any:
    _, text = _message_text(params, "MESSAGE_TOO_LONG")
    message = _editable(world, params)
    return _edited(world, bot, message, {"text": text}, _markup(params))


def edit_message_reply_markup(world: World, bot: Bot, params: Params) -> Any:
    message = _editable(world, params)
    markup = _markup(params) or {"inline_keyboard": []}
    if not markup.get("inline_keyboard"):
        if "reply_markup" not in message.data:
            raise NOT_MODIFIED
        world.charge(bot, message.chat_id, paid=False)
        message.data = {k: v for k, v in message.data.items() if k != "reply_markup"}
        message.markup = None
        message.edits += 1
        return message.data
    return _edited(world, bot, message, {}, markup)


def answer_callback_query(world: World, bot: Bot, params: Params) -> Any:
    query = bot.queries.get(str(params.get("callback_query_id") or ""))
    if query is None or query.answered:
        raise QUERY_TOO_OLD
    if world.clock() - query.created > bot.limits.callback_timeout:
        raise QUERY_TOO_OLD
    text = _text(params, "text") or ""
    if len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answered = True
    query.answered_at = world.clock()
    query.answer = {"text": text, "show_alert": _bool(params, "show_alert")}
    return True


def delete_message(world: World, bot: Bot, params: Params) -> Any:
    message = _bot_message(world, params)
    message.data = {"message_id": message.message_id, "deleted": True}
    message.markup = None
    return True


# ----- the bot itself -----------------------------------------------------------------------
def get_me(world: World, bot: Bot, params: Params) -> Any:
    return {
        **bot.as_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def set_my_commands(world: World, bot: Bot, params: Params) -> Any:
    commands = _obj(params, "commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("commands must be a list of at most 100 BotCommand")
    for command in commands:
        name = str(command.get("command", "")).lstrip("/")
        if not COMMAND_NAME.match(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands = commands
    return True


def get_my_commands(world: World, bot: Bot, params: Params) -> Any:
    return bot.commands


def set_webhook(world: World, bot: Bot, params: Params) -> Any:
    url = _text(params, "url") or ""
    secret = _text(params, "secret_token")
    if secret is not None and not SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    connections = _int(params, "max_connections", default=40)
    if not 1 <= connections <= 100:
        raise bad_request("max_connections must be between 1 and 100")
    if url:
        _check_webhook_url(url, local=world.local_webhooks)
    allowed = _obj(params, "allowed_updates")
    bot.webhook.url = url
    bot.webhook.secret = secret
    bot.webhook.max_connections = connections
    if allowed is not None:
        bot.webhook.allowed_updates = list(allowed) or None
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    return True


def _check_webhook_url(url: str, *, local: bool) -> None:
    """Telegram's rules for a webhook URL: https:// on one of four ports. The emulator's
    ``local_webhooks`` (the Bot API server's ``--local``) lets a loopback address use http://
    and any port, which tests and the demo need."""
    if not re.match(r"^https?://\S+$", url):
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise bad_request("bad webhook: Wrong port number specified in the URL") from None
    if local and is_loopback(parts.hostname or ""):
        return
    if parts.scheme != "https":
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if port is not None and port not in WEBHOOK_PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")


def delete_webhook(world: World, bot: Bot, params: Params) -> Any:
    bot.webhook.url = ""
    bot.webhook.secret = None
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    return True


def get_webhook_info(world: World, bot: Bot, params: Params) -> Any:
    hook = bot.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


def take_updates(world: World, bot: Bot, params: Params) -> list[dict[str, Any]]:
    """getUpdates without the wait: confirms everything below ``offset``, returns the rest."""
    if bot.webhook.url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
            "to delete the webhook first",
        )
    offset = _int(params, "offset")
    limit = _int(params, "limit", default=100)
    if not 1 <= limit <= 100:
        limit = 100
    allowed = _obj(params, "allowed_updates")
    if allowed is not None:
        bot.webhook.allowed_updates = list(allowed) or None
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]
    return bot.updates[:limit]


METHODS: dict[str, Method] = {
    "getme": get_me,
    "sendmessage": send_message,
    "sendphoto": send_photo,
    "editmessagetext": edit_message_text,
    "editmessagereplymarkup": edit_message_reply_markup,
    "answercallbackquery": answer_callback_query,
    "deletemessage": delete_message,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
}
