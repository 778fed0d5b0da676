"""The emulated WhatsApp Cloud API: a business number, its users, limits, templates and events.

One ``World`` is shared by the HTTP server (its own event-loop thread) and the test or demo that
drives simulated users from another thread, so every change happens under one lock. Facts come
from ``shared/channels.md`` (Meta's Cloud API pages and pywa's source), not from what Gaung sends.

Time is the injected ``clock`` (epoch seconds): the throughput and pair buckets, the 24-hour
customer-service window and the moving 24-hour messaging limit all read it, so a test can move a
day forward without waiting. Webhook retries run on real time in the server.
"""

from __future__ import annotations

import base64
import copy
import itertools
import random
import re
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from bot.emulators.whatsapp.limits import Bucket, Limits, OffsetClock
from bot.emulators.whatsapp.payloads import (
    GAUNG_TEMPLATE,
    MAX_TRACKER,
    NOTICE_TEMPLATE,
    ApiError,
    Template,
    check_interactive,
    check_template,
    check_text,
    pricing,
    status_error,
)
from bot.emulators.whatsapp.records import Call, Sent, User, Webhook
from bot.emulators.world import EmulatedWorld

WINDOW = 24 * 3600.0
TIERS: tuple[int | None, ...] = (250, 2_000, 10_000, 100_000, None)  # None: unlimited
FIRST_WA_ID = 6281_000_000_000
FIRST_BSUID = 1_000_000_000_000


def _wamid() -> str:
    return "wamid." + base64.b64encode(b"\x15\x02" + secrets.token_bytes(30)).decode()


class World(EmulatedWorld[str, Sent]):
    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] | None = None,
        token: str = "EAAG-TEST-TOKEN",
        phone_id: str = "106540352242922",
        display_phone_number: str = "6281100000000",
        waba_id: str = "102290129340398",
        seed: int = 0,
    ) -> None:
        super().__init__(clock or OffsetClock())
        self.limits = limits or Limits()
        self.tokens = {token}
        self.phone_id = phone_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.users: dict[str, User] = {}  # by wa_id
        self.by_bsuid: dict[str, User] = {}
        self.templates: dict[tuple[str, str], Template] = {}
        self.sent: dict[str, Sent] = {}
        self.inbound: list[dict[str, Any]] = []  # messages users sent, as webhooked
        self.events: deque[dict[str, Any]] = deque()  # webhook payloads not yet delivered
        self.webhook = Webhook()
        self.calls: list[Call] = []
        self.reached: dict[str, float] = {}  # user -> when first reached outside a window
        self._reached_order: deque[tuple[float, str]] = deque()
        self.random = random.Random(seed)
        self.changed = threading.Event()
        self._wa_ids = itertools.count(FIRST_WA_ID)
        self._bsuids = itertools.count(FIRST_BSUID)
        self._build_buckets()
        self.add_template(copy.deepcopy(GAUNG_TEMPLATE))  # worlds must not share its status
        self.add_template(copy.deepcopy(NOTICE_TEMPLATE))

    # ----- set-up -------------------------------------------------------------------------
    def _build_buckets(self) -> None:
        self.throughput = self.limits.throughput()
        self.pair_buckets: dict[str, Bucket] = {}

    def set_limits(self, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                if not hasattr(self.limits, name):
                    raise ValueError(f"unknown limit {name}")
                setattr(self.limits, name, value)
            self._build_buckets()

    def set_webhook(self, url: str | None, *, app_secret: str = "", verify_token: str = "") -> None:
        with self.lock:
            self.webhook.url = url
            self.webhook.app_secret = app_secret
            self.webhook.verify_token = verify_token
            self.changed.set()

    def add_template(self, template: Template) -> Template:
        with self.lock:
            self.templates[(template.name, template.language)] = template
            return template

    def set_template_status(self, name: str, language: str, status: str) -> None:
        with self.lock:
            self.templates[(name, language)].status = status.upper()

    def add_user(
        self,
        name: str = "Pengguna",
        *,
        wa_id: str | None = None,
        username: str | None = None,
        hide_phone: bool = False,
        in_window: bool = False,
    ) -> User:
        """A WhatsApp user; ``in_window`` pretends they wrote to us just now."""
        with self.lock:
            number = (wa_id or str(next(self._wa_ids))).lstrip("+")
            if number in self.users:
                raise ValueError(f"user {number} exists")
            user = User(
                wa_id=number,
                user_id=f"ID.{next(self._bsuids)}",
                name=name,
                username=username,
                hide_phone=hide_phone,
                last_inbound=self.clock() if in_window else None,
            )
            self.users[number] = user
            self.by_bsuid[user.user_id] = user
            return user

    def add_users(self, count: int, *, in_window: bool = False, prefix: str = "ASN") -> list[str]:
        with self.lock:
            return [
                self.add_user(f"{prefix} {n}", in_window=in_window).wa_id
                for n in range(1, count + 1)
            ]

    def update_user(self, who: str, **fields: Any) -> None:
        """Change what a user chose: read receipts, a username, stopping marketing messages."""
        allowed = {"name", "username", "hide_phone", "read_receipts", "stopped_marketing"}
        with self.lock:
            user = self.user(who)
            for name, value in fields.items():
                if name not in allowed:
                    raise ValueError(f"cannot change {name}")
                setattr(user, name, value)

    def user(self, who: str) -> User:
        with self.lock:
            found = self.users.get(who.lstrip("+")) or self.by_bsuid.get(who)
            if found is None:
                raise ValueError(f"unknown user {who}")
            return found

    def advance(self, seconds: float) -> None:
        """Move the injected clock (an ``OffsetClock`` or anything with ``advance``)."""
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise ValueError("this world's clock cannot be moved")
        advance(seconds)

    def freeze_clock(self) -> None:
        """Stop the injected clock (an ``OffsetClock``): from now on only ``advance`` moves it."""
        freeze = getattr(self.clock, "freeze", None)
        if freeze is None:
            raise ValueError("this world's clock cannot be stopped")
        freeze()

    # ----- window and limits --------------------------------------------------------------
    def window_open(self, user: User, now: float | None = None) -> bool:
        now = self.clock() if now is None else now
        return user.last_inbound is not None and now - user.last_inbound < WINDOW

    def reached_today(self, now: float | None = None) -> int:
        """Unique users reached outside a window in the moving 24 hours before ``now``.

        Kept as a dict plus the order of reaching, expired from the oldest end, so a broadcast
        to thousands does not rescan everyone on each send.
        """
        with self.lock:
            now = self.clock() if now is None else now
            while self._reached_order and now - self._reached_order[0][0] >= WINDOW:
                at, wa_id = self._reached_order.popleft()
                if self.reached.get(wa_id) == at:
                    del self.reached[wa_id]
            return len(self.reached)

    def _reach(self, user: User, now: float) -> tuple[int, str] | None:
        """Count a user reached outside a window against the tier, or the error if full."""
        self.reached_today(now)  # expire the old ones
        if user.wa_id in self.reached:
            return None  # already one of today's unique users
        cap = self.limits.messaging_limit
        if cap is not None and len(self.reached) >= cap:
            details = f"The messaging limit of {cap} unique users per 24 hours is reached."
            return (self.limits.tier_error, details)
        self.reached[user.wa_id] = now
        self._reached_order.append((now, user.wa_id))
        return None

    def _charge(self, key: str, now: float) -> None:
        """Throughput of the number, then the pair rate to this user; or the error."""
        if not self.throughput.ready(now):
            raise ApiError(
                130429,
                f"Cloud API message throughput has been reached ({self.limits.rate:g}/s).",
                status=429,
            )
        pair = self.pair_buckets.get(key)
        if pair is None:
            pair = self.pair_buckets[key] = Bucket(
                self.limits.pair_rate, self.limits.pair_burst, now
            )
        if not pair.ready(now):
            raise ApiError(
                131056,
                "Message failed to send because there were too many messages sent from this "
                "phone number to the same phone number in a short period of time.",
            )
        self.throughput.take(now)
        pair.take()

    # ----- sending (called by the server under the lock) ----------------------------------
    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate and accept one ``/messages`` request; raise ``ApiError`` when Meta would."""
        now = self.clock()
        if body.get("messaging_product") != "whatsapp":
            raise ApiError(100, "The parameter messaging_product is required.")
        to = str(body.get("to") or "").strip()
        recipient = str(body.get("recipient") or "").strip()
        if not to and not recipient:
            raise ApiError(131008, "The parameter to is required.")
        kind = body.get("type", "text")
        category: str | None = None  # a template's
        tracker = body.get("biz_opaque_callback_data")
        if tracker is not None and (not isinstance(tracker, str) or len(tracker) > MAX_TRACKER):
            raise ApiError(131009, "biz_opaque_callback_data must be a string of ≤ 512 chars.")
        if kind == "text":
            payload = check_text(body.get("text"))
        elif kind == "interactive":
            payload = check_interactive(body.get("interactive"))
        elif kind == "template":
            template, payload = check_template(self.templates, body.get("template"))
            category = template.category
        else:
            raise ApiError(131009, f"Unsupported message type {kind!r}.")
        if to:
            user = self.users.get(re.sub(r"\D", "", to))
            address = re.sub(r"\D", "", to) or to
        else:
            user = self.by_bsuid.get(recipient)
            address = recipient
        self._charge(user.wa_id if user else address, now)

        in_window = user is not None and self.window_open(user, now)
        error: tuple[int, str] | None = None
        if user is None:
            error = (131026, "Message undeliverable: the number is not on WhatsApp.")
        elif kind != "template" and not in_window:
            error = (131047, "More than 24 hours have passed since the recipient last replied.")
        elif kind == "template" and not in_window:
            if category == "marketing" and user.stopped_marketing:
                error = (131050, "The user has stopped marketing messages from this business.")
            else:
                error = self._reach(user, now)
        cost = pricing(kind, category, in_window)
        message = Sent(
            id=_wamid(),
            to=address,
            user=user,
            type=kind,
            payload=payload,
            tracker=tracker,
            at=now,
            pricing=cost,
        )
        self.sent[message.id] = message
        if error is not None:
            message.error = error[0]
            self._status(message, "failed", errors=[status_error(*error)])
        else:
            self._status(message, "sent")
            self._status(message, "delivered")
        # Addressed by phone the answer names the wa_id; by BSUID, the user_id (pywa: one only).
        if to:
            contact = {"input": to, "wa_id": user.wa_id if user else address}
        else:
            contact = {"input": recipient, "user_id": recipient}
        return {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [{"id": message.id, "message_status": "accepted"}],
        }

    # ----- events -------------------------------------------------------------------------
    def _envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": self.phone_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }

    def _queue(self, value: dict[str, Any]) -> dict[str, Any]:
        event = self._envelope(value)
        self.events.append(event)
        self.changed.set()
        return event

    def _status(
        self, message: Sent, status: str, *, errors: list[dict[str, Any]] | None = None
    ) -> None:
        message.statuses.append(status)
        user = message.user
        if user is not None:
            contact = user.contact()
        else:  # pywa drops a status whose contact has no user_id: always give one
            contact = {"profile": {"name": ""}, "wa_id": message.to, "user_id": _bsuid(message.to)}
        item: dict[str, Any] = {
            "id": message.id,
            "status": status,
            "timestamp": str(int(self.clock())),
            "recipient_id": contact["wa_id"],
            "recipient_user_id": contact["user_id"],
        }
        if errors:
            item["errors"] = errors
        else:
            item["pricing"] = message.pricing
        if message.tracker is not None:
            item["biz_opaque_callback_data"] = message.tracker
        self._queue({"contacts": [contact], "statuses": [item]})

    def _from_user(self, user: User, fields: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        user.last_inbound = now
        message = {
            "from": "" if user.hide_phone else user.wa_id,
            "from_user_id": user.user_id,
            "id": _wamid(),
            "timestamp": str(int(now)),
            **fields,
        }
        self.inbound.append(message)
        self._queue({"contacts": [user.contact()], "messages": [message]})
        return message

    # ----- what users do ------------------------------------------------------------------
    def say(self, who: str, text: str) -> dict[str, Any]:
        """The user writes a text message (opening or renewing their 24-hour window)."""
        with self.lock:
            return self._from_user(self.user(who), {"type": "text", "text": {"body": text}})

    def _own_message(self, user: User, message_id: str) -> Sent:
        message = self.sent.get(message_id)
        if message is None or message.user is not user:
            raise ValueError(f"no message {message_id} to {user.wa_id}")
        if message.error is not None:
            raise ValueError(f"message {message_id} never arrived")
        return message

    def _button(self, user: User, message_id: str, label: str, *, under: str) -> dict[str, str]:
        """The button whose label contains ``label`` under the user's message ``message_id``,
        which must be of type ``under``: a reply button of an interactive message (labelled by
        its ``title``) or a quick reply of a template (by its ``text``)."""
        message = self._own_message(user, message_id)
        if message.type != under:
            raise ValueError(f"message {message_id} is not {under}")
        key = "title" if under == "interactive" else "text"
        for button in message.buttons():
            if label in button[key]:
                return button
        raise ValueError(f"no button labelled {label!r} under {message_id}")

    def press(
        self, who: str, message_id: str, label: str, *, forged_id: str | None = None
    ) -> dict[str, Any]:
        """Press the reply button whose title contains ``label`` under an interactive message.

        ``forged_id`` sends that id instead: a modified client can send anything.
        """
        with self.lock:
            user = self.user(who)
            button = self._button(user, message_id, label, under="interactive")
            reply = {"id": forged_id or button["id"], "title": button["title"]}
            context = {"from": self.display_phone_number, "id": message_id}
            fields = {
                "type": "interactive",
                "interactive": {"type": "button_reply", "button_reply": reply},
                "context": context,
            }
            return self._from_user(user, fields)

    def quick_reply(
        self, who: str, message_id: str, label: str, *, with_context: bool = True
    ) -> dict[str, Any]:
        """Tap a template quick reply whose text contains ``label`` (``type: button``)."""
        with self.lock:
            user = self.user(who)
            button = self._button(user, message_id, label, under="template")
            fields: dict[str, Any] = {"type": "button", "button": button}
            if with_context:
                fields["context"] = {"from": self.display_phone_number, "id": message_id}
            return self._from_user(user, fields)

    def read(self, who: str, message_id: str) -> bool:
        """The user opens the message: a ``read`` status if they keep read receipts on."""
        with self.lock:
            user = self.user(who)
            message = self._own_message(user, message_id)
            if not user.read_receipts or "read" in message.statuses:
                return False
            self._status(message, "read")
            return True

    # ----- looking ------------------------------------------------------------------------
    def messages(self, who: str) -> list[Sent]:
        with self.lock:
            user = self.user(who)
            return [m for m in self.sent.values() if m.user is user]

    def delivered_counts(self) -> Counter[str]:
        """Messages that reached each user: duplicates show up as counts above one."""
        with self.lock:
            return Counter(
                m.user.wa_id for m in self.sent.values() if m.user is not None and m.error is None
            )

    def accepted_times(self) -> list[float]:
        """When each accepted ``/messages`` call arrived (clock seconds, in order): a benchmark
        splits its wall time with them (the first send, the pace, the last send)."""
        with self.lock:
            return [c.at for c in self.calls if c.status == 200]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            by_code: Counter[str] = Counter(str(c.error_code or c.status) for c in self.calls)
            counts = self.delivered_counts()
            return {
                "calls": dict(by_code),
                "users_with_messages": len(counts),
                "messages": sum(counts.values()),
                "users_with_duplicates": sum(1 for n in counts.values() if n > 1),
                "failed": dict(Counter(str(m.error) for m in self.sent.values() if m.error)),
                "reached_today": self.reached_today(),
                "messaging_limit": self.limits.messaging_limit,
                "events_pending": len(self.events),
                "webhooks_delivered": self.webhook.delivered,
                "webhook_failures": self.webhook.failures,
            }


def _bsuid(address: str) -> str:
    digits = re.sub(r"\D", "", address) or "0"
    return f"ID.{int(digits) % 10**19}"
