"""The emulated Telegram: bots, users, chats, limits and faults, and what users do.

One ``World`` is shared by the HTTP server (its own event-loop thread) and the test or demo
that drives simulated users from another thread, so every change happens under one lock.
Facts come from ``shared/channels.md``: Telegram's documentation and the Bot API server source.
"""

from __future__ import annotations

import itertools
import math
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.emulators.world import EmulatedWorld

FIRST_USER_ID = 700_000_000
BOT_ID_BASE = 8_000_000_000


class ApiError(Exception):
    """A Bot API failure; the HTTP status equals ``code`` as on the real server."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


NOT_MODIFIED = bad_request(
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = bad_request("query is too old and response timeout expired or query ID is invalid")


SHAPES = ("sliding", "bucket", "fixed")
PENALTIES = ("growing", "none")


@dataclass
class Limits:
    """Telegram calls its limits flexible; these are the emulator's *assumptions* about them.

    Telegram does not publish how it counts the bot-wide limit, so the shape is a setting:
    ``sliding`` (at most rate × window sends in any window of that many seconds), ``bucket``
    (a token bucket of ``burst`` tokens refilled at ``rate``) or ``fixed`` (rate × window sends
    per window aligned to the clock). The penalty rule says what sending during a flood wait
    does: ``growing`` adds ``flood_penalty`` seconds for each such send, ``none`` leaves the
    wait as it was. The defaults are the strict ones: a sliding window, a growing penalty.
    The per-chat limit is a token bucket (about 1/s with short bursts) in every shape.
    """

    rate: float = 30.0  # messages/s per bot
    burst: float | None = None  # bucket size (shape "bucket"); default one second's worth
    shape: str = "sliding"
    window: float = 1.0  # seconds (shapes "sliding" and "fixed")
    penalty: str = "growing"
    paid_rate: float = 1000.0  # with allow_paid_broadcast
    chat_rate: float = 1.0  # messages/s per chat
    chat_burst: float = 3.0
    flood_penalty: float = 1.0  # seconds added for each send during a flood wait ("growing")
    callback_timeout: float = 10.0  # answerCallbackQuery later than this: "query is too old"
    webhook_retry_base: float = 1.0  # first retry delay; doubles up to the cap
    webhook_retry_cap: float = 60.0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown limiter shape {self.shape!r}: one of {', '.join(SHAPES)}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"unknown penalty {self.penalty!r}: one of {', '.join(PENALTIES)}")

    def limiter(self, rate: float, burst: float | None = None) -> Limiter:
        if self.shape == "bucket":
            return Bucket(rate, burst or rate)
        if self.shape == "fixed":
            return FixedWindow(rate, self.window)
        return SlidingWindow(rate, self.window)


class Limiter(Protocol):
    def ready(self, now: float) -> bool: ...

    def take(self, now: float) -> None: ...

    def wait(self, now: float) -> float:
        """Seconds until one more send would be accepted."""
        ...


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self.stamp: float | None = None

    def _refill(self, now: float) -> None:
        # Moments may come a little out of order (``World.left``): an earlier one refills none.
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now if self.stamp is None else max(self.stamp, now)

    def ready(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= 1.0

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0

    def wait(self, now: float) -> float:
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate)


class SlidingWindow:
    """At most ``rate × window`` accepted sends in any ``window`` seconds."""

    def __init__(self, rate: float, window: float = 1.0) -> None:
        self.window = window
        self.most = max(1, round(rate * window))
        self.stamps: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self.stamps and self.stamps[0] <= now - self.window:
            self.stamps.popleft()

    def ready(self, now: float) -> bool:
        self._expire(now)
        return len(self.stamps) < self.most

    def take(self, now: float) -> None:
        self.stamps.append(now)

    def wait(self, now: float) -> float:
        self._expire(now)
        if len(self.stamps) < self.most:
            return 0.0
        return self.stamps[len(self.stamps) - self.most] + self.window - now


class FixedWindow:
    """At most ``rate × window`` sends in each window ``[k·window, (k+1)·window)`` of the clock."""

    def __init__(self, rate: float, window: float = 1.0) -> None:
        self.window = window
        self.most = max(1, round(rate * window))
        self.current = -1
        self.count = 0

    def _roll(self, now: float) -> None:
        index = math.floor(now / self.window)
        if index != self.current:
            self.current, self.count = index, 0

    def ready(self, now: float) -> bool:
        self._roll(now)
        return self.count < self.most

    def take(self, now: float) -> None:
        self._roll(now)
        self.count += 1

    def wait(self, now: float) -> float:
        self._roll(now)
        return 0.0 if self.count < self.most else (self.current + 1) * self.window - now


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone: str | None = None  # E.164 without "+", as Telegram keeps it
    started: bool = False  # pressed Start: the bot may write to them
    blocked: bool = False
    deactivated: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        data["language_code"] = "id"
        return data

    def chat(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class Message:
    """One message in a private chat, from the bot or from the user."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    data: dict[str, Any]  # the Bot API ``Message`` object as last sent or edited
    markup: dict[str, Any] | None = None  # any reply_markup, including reply keyboards
    html: str | None = None
    edits: int = 0

    @property
    def text(self) -> str:
        return str(self.data.get("text") or self.data.get("caption") or "")

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.markup or {}).get("inline_keyboard") or (self.markup or {}).get("keyboard")
        return [button for row in rows or [] for button in row]


@dataclass
class Call:
    at: float
    method: str
    params: dict[str, Any]
    status: int
    description: str | None = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass
class Webhook:
    url: str = ""
    secret: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    duplicates: int = 0  # deliver this many of the next updates twice (Telegram may)


@dataclass
class Query:
    user_id: int
    message_id: int
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None
    answered_at: float | None = None


@dataclass
class Bot:
    token: str
    id: int
    username: str
    first_name: str
    limits: Limits
    bucket: Limiter
    paid_bucket: Limiter
    flood_until: float = 0.0
    chat_buckets: dict[int, Limiter] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)  # not yet confirmed
    next_update_id: int = 1
    webhook: Webhook = field(default_factory=Webhook)
    queries: dict[str, Query] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    polls: int = 0  # getUpdates requests waiting right now

    def as_user(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }


class World(EmulatedWorld[int, Message]):
    # Like the Bot API server's ``--local`` mode: webhooks may be http:// on any port, but only
    # on this machine. Off, setWebhook wants https:// on 443, 80, 88 or 8443, as Telegram does.
    local_webhooks: bool = False

    def __init__(
        self, limits: Limits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(clock)
        self.limits = limits or Limits()
        self.bots: dict[str, Bot] = {}
        self.users: dict[int, User] = {}
        self.chats: dict[int, list[Message]] = {}
        self._user_ids = itertools.count(FIRST_USER_ID)
        self.changed = threading.Event()  # set whenever an update is queued
        # When each chat's last message left the sender, on this world's clock, if a test says
        # (its pacer's moments): the limits then count that moment, not when this thread got
        # round to the request. On a loaded machine the emulator's own delays bunch up requests
        # that left evenly spaced, and a strict limiter would refuse what Telegram would not.
        self.left: dict[int, float] = {}

    # ----- set-up -------------------------------------------------------------------------
    def add_bot(self, token: str, username: str = "gaung_bot", first_name: str = "Gaung") -> Bot:
        with self.lock:
            bot = Bot(
                token=token,
                id=BOT_ID_BASE + len(self.bots) + 1,
                username=username,
                first_name=first_name,
                limits=self.limits,
                bucket=self.limits.limiter(self.limits.rate, self.limits.burst),
                paid_bucket=self.limits.limiter(self.limits.paid_rate),
            )
            self.bots[token] = bot
            return bot

    def set_limits(self, **changes: float | str) -> None:
        """Change limits (numbers; ``shape`` and ``penalty`` are names); counting restarts."""
        with self.lock:
            for name, value in changes.items():
                if not hasattr(self.limits, name):
                    raise ValueError(f"unknown limit {name}")
                if name in ("shape", "penalty"):
                    setattr(self.limits, name, str(value))
                else:
                    setattr(self.limits, name, float(value))
            self.limits.__post_init__()
            for bot in self.bots.values():
                bot.bucket = self.limits.limiter(self.limits.rate, self.limits.burst)
                bot.paid_bucket = self.limits.limiter(self.limits.paid_rate)
                bot.chat_buckets.clear()

    def add_user(
        self,
        first_name: str = "Pengguna",
        *,
        phone: str | None = None,
        user_id: int | None = None,
        username: str | None = None,
        started: bool = False,
    ) -> User:
        with self.lock:
            uid = user_id if user_id is not None else next(self._user_ids)
            if uid in self.users:
                raise ValueError(f"user {uid} exists")
            user = User(
                id=uid,
                first_name=first_name,
                username=username,
                phone=phone.lstrip("+") if phone else None,
                started=started,
            )
            self.users[uid] = user
            self.chats.setdefault(uid, [])
            return user

    def add_users(self, count: int, *, started: bool = True, prefix: str = "ASN") -> list[int]:
        """Many users at once (benchmarks); they have pressed Start unless told otherwise."""
        with self.lock:
            return [self.add_user(f"{prefix} {n}", started=started).id for n in range(1, count + 1)]

    def bot(self, token: str | None = None) -> Bot:
        with self.lock:
            if token is None:
                if len(self.bots) != 1:
                    raise ValueError("name the bot: the world has several")
                return next(iter(self.bots.values()))
            return self.bots[token]

    # ----- rate limits --------------------------------------------------------------------
    def charge(self, bot: Bot, chat_id: int | None, *, paid: bool) -> None:
        """Count one message against the bot's and the chat's limits, or answer 429."""
        now = self.clock() if chat_id is None else self.left.get(chat_id, self.clock())
        limits = bot.limits
        if now < bot.flood_until:
            # Sending on during a flood wait may make it longer (the "growing" assumption).
            if limits.penalty == "growing":
                bot.flood_until += limits.flood_penalty
            raise _too_many(bot.flood_until - now)
        bucket = bot.paid_bucket if paid else bot.bucket
        chat_bucket = None
        if chat_id is not None:
            chat_bucket = bot.chat_buckets.get(chat_id)
            if chat_bucket is None:
                chat_bucket = bot.chat_buckets[chat_id] = Bucket(
                    limits.chat_rate, limits.chat_burst
                )
            if not chat_bucket.ready(now):
                raise _too_many(chat_bucket.wait(now))
        if not bucket.ready(now):
            retry = max(1, math.ceil(bucket.wait(now)))
            bot.flood_until = now + retry
            raise _too_many(retry)
        bucket.take(now)
        if chat_bucket is not None:
            chat_bucket.take(now)

    # ----- chats --------------------------------------------------------------------------
    def post(
        self,
        chat_id: int,
        *,
        from_bot: bool,
        fields: dict[str, Any],
        sender: dict[str, Any],
        markup: dict[str, Any] | None = None,
        html: str | None = None,
    ) -> Message:
        with self.lock:
            history = self.chats.setdefault(chat_id, [])
            message_id = len(history) + 1
            user = self.users[chat_id]
            data = {
                "message_id": message_id,
                "from": sender,
                "chat": user.chat(),
                "date": int(time.time()),
                **fields,
            }
            if markup is not None and "inline_keyboard" in markup:
                data["reply_markup"] = markup
            message = Message(message_id, chat_id, from_bot, data["date"], data, markup, html)
            history.append(message)
            return message

    def messages(self, chat_id: int, *, from_bot: bool | None = True) -> list[Message]:
        with self.lock:
            return [
                m for m in self.chats.get(chat_id, []) if from_bot is None or m.from_bot == from_bot
            ]

    def delivered_counts(self) -> Counter[int]:
        """Messages the bot sent per chat: duplicates show up as counts above one."""
        with self.lock:
            return Counter(
                {chat: sum(1 for m in ms if m.from_bot) for chat, ms in self.chats.items()}
            )

    def calls(self, method: str | None = None, bot: Bot | None = None) -> list[Call]:
        with self.lock:
            bots = [bot] if bot else list(self.bots.values())
            found = [c for b in bots for c in b.calls]
            return [c for c in found if method is None or c.method == method]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            by_status: Counter[str] = Counter()
            for call in self.calls():
                by_status[f"{call.method} {call.status}"] += 1
            counts = self.delivered_counts()
            return {
                "calls": dict(by_status),
                "chats_with_messages": sum(1 for n in counts.values() if n),
                "messages": sum(counts.values()),
                "chats_with_duplicates": sum(1 for n in counts.values() if n > 1),
                "faults_taken": dict(self.faults_taken),
            }

    # ----- what users do ------------------------------------------------------------------
    def _queue(self, bot: Bot, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        allowed = bot.webhook.allowed_updates
        if not allowed or kind in allowed:
            bot.updates.append(update)
            self.changed.set()
        return update

    def _user(self, user_id: int) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}")
        return user

    def _from_user(self, bot: Bot, user: User, fields: dict[str, Any]) -> dict[str, Any]:
        """A user writing to the bot starts (or restarts) the chat, as the app's buttons do."""
        if user.blocked:
            self.unblock(user.id, bot)
        user.started = True
        message = self.post(user.id, from_bot=False, fields=fields, sender=user.as_dict())
        return self._queue(bot, "message", message.data)

    def say(self, user_id: int, text: str, bot: Bot | None = None) -> dict[str, Any]:
        with self.lock:
            bot = bot or self.bot()
            fields: dict[str, Any] = {"text": text}
            if text.startswith("/"):
                command = text.split()[0]
                fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            return self._from_user(bot, self._user(user_id), fields)

    def share_contact(
        self,
        user_id: int,
        *,
        phone: str | None = None,
        contact_user_id: int | None = -1,
        first_name: str | None = None,
        plus: bool = False,
        bot: Bot | None = None,
    ) -> dict[str, Any]:
        """Share a contact: by default one's own (what the request_contact button sends).

        ``contact_user_id=None`` shares a contact that is not a Telegram user; ``plus`` chooses
        whether the number carries a leading ``+`` (clients differ).
        """
        with self.lock:
            bot = bot or self.bot()
            user = self._user(user_id)
            number = (phone or user.phone or "").lstrip("+")
            contact: dict[str, Any] = {
                "phone_number": f"+{number}" if plus else number,
                "first_name": first_name or user.first_name,
            }
            owner = user.id if contact_user_id == -1 else contact_user_id
            if owner is not None:
                contact["user_id"] = owner
            return self._from_user(bot, user, {"contact": contact})

    def press(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        forged: bool = False,
        bot: Bot | None = None,
    ) -> str:
        """Press a callback button under a bot message; returns the callback query id.

        ``forged`` skips the check that the button exists: a modified client can send anything.
        """
        with self.lock:
            bot = bot or self.bot()
            user = self._user(user_id)
            history = self.chats.get(user_id, [])
            if not 0 < message_id <= len(history) or not history[message_id - 1].from_bot:
                raise ValueError(f"no bot message {message_id} in chat {user_id}")
            message = history[message_id - 1]
            if not forged and data not in {b.get("callback_data") for b in message.buttons()}:
                raise ValueError(f"no button {data!r} under message {message_id}")
            query_id = str(secrets.randbits(63))
            bot.queries[query_id] = Query(user.id, message_id, self.clock())
            self._queue(
                bot,
                "callback_query",
                {
                    "id": query_id,
                    "from": user.as_dict(),
                    "message": message.data,
                    "chat_instance": str(user.id * 7 + 1),
                    "data": data,
                },
            )
            return query_id

    def press_label(self, user_id: int, message_id: int, label: str) -> str:
        """Press the callback button whose text contains ``label`` (as a person reads it)."""
        with self.lock:
            message = self.chats[user_id][message_id - 1]
            for button in message.buttons():
                if label in button.get("text", "") and "callback_data" in button:
                    return self.press(user_id, message_id, button["callback_data"])
            raise ValueError(f"no button labelled {label!r} under message {message_id}")

    def _member_update(self, bot: Bot, user: User, old: str, new: str) -> None:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": bot.as_user(), "status": status}
            if status == "kicked":
                data["until_date"] = 0  # banned forever: what blocking a bot looks like
            return data

        self._queue(
            bot,
            "my_chat_member",
            {
                "chat": user.chat(),
                "from": user.as_dict(),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    def block(self, user_id: int, bot: Bot | None = None) -> None:
        with self.lock:
            user = self._user(user_id)
            if not user.blocked:
                user.blocked = True
                self._member_update(bot or self.bot(), user, "member", "kicked")

    def unblock(self, user_id: int, bot: Bot | None = None) -> None:
        with self.lock:
            user = self._user(user_id)
            if user.blocked:
                user.blocked = False
                self._member_update(bot or self.bot(), user, "kicked", "member")

    def deactivate(self, user_id: int) -> None:
        with self.lock:
            self._user(user_id).deactivated = True


def _too_many(seconds: float) -> ApiError:
    retry = max(1, math.ceil(seconds))
    return ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
