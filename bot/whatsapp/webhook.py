"""Meta's webhook for the WhatsApp number: the signature, the GET handshake, plain events.

The signature is checked over the exact request bytes before anything is parsed: Meta escapes
``/`` and non-ASCII characters, so a body parsed and serialised again has another digest.
Events come out as plain dataclasses, free of pywa types, so the conversation core and the
delivery bookkeeping never see a chat library. A person is keyed by both ``wa_id`` and the
business-scoped ``user_id``: ``wa_id`` is empty for a user who adopted a username.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SIGNATURE_HEADER = "X-Hub-Signature-256"
WINDOW = timedelta(hours=24)


def inbox_key(message_id: str) -> str:
    """What the inbox (``processed_update``) keeps of a WhatsApp message id: a digest.

    A Cloud API message id is ``wamid.`` and base64 over a record that holds the user's phone
    number (``wamid.HBgLNjI4MTI…`` reads ``…6281 2…``), and the inbox keeps its keys for the
    retention period, long after ``/hapus`` erased that number everywhere else (issue 12).
    A redelivery carries the same id, so its digest deduplicates exactly as the id did.
    """
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


class BadEvent(ValueError):
    """The body is not a WhatsApp webhook we can read (answered with a 4xx, never a trace)."""


class BadSignature(Exception):
    """Missing or wrong ``X-Hub-Signature-256``: refused (403) and recorded nowhere."""


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when ``header`` signs these exact bytes; compared in constant time.

    An empty secret verifies nothing: without it any caller could forge events.
    """
    if not app_secret or not header:
        return False
    return hmac.compare_digest(signature(app_secret, body).encode(), header.strip().encode())


def verify_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The subscription handshake: the challenge to echo with 200, or None for a 403."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    given = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge")


def verified_events(body: bytes, header: str | None, app_secret: str) -> list[Event]:
    """The events of a webhook POST, only once its signature is checked over these bytes."""
    if not verify_signature(body, header, app_secret):
        raise BadSignature("missing or wrong X-Hub-Signature-256")
    return parse_body(body)


def window_open(last_inbound: datetime | None, now: datetime) -> bool:
    """Whether the 24-hour customer-service window is open, from the user's last message time.

    Measured from the ``timestamp`` Meta puts on the user's message (``Inbound.at``), not from
    when the webhook reached us: a redelivered event must not reopen a closed window.
    """
    return last_inbound is not None and now - last_inbound < WINDOW


# ----- events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contact:
    """Who an event is about: ``user_id`` always, ``wa_id`` (the phone) when shown."""

    user_id: str
    wa_id: str | None
    name: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class Inbound:
    """Something a person sent; ``timestamp`` (epoch seconds) opens their 24-hour window."""

    message_id: str
    contact: Contact
    timestamp: int
    phone_number_id: str

    @property
    def at(self) -> datetime:
        """When the user sent it (UTC): what the customer-service window counts from."""
        return datetime.fromtimestamp(self.timestamp, UTC)

    @property
    def dedupe_key(self) -> str:
        """Meta redelivers and duplicates webhooks: one inbound message is one message id."""
        return inbox_key(self.message_id)


@dataclass(frozen=True)
class InboundText(Inbound):
    text: str = ""


@dataclass(frozen=True)
class ButtonReply(Inbound):
    """A reply button pressed under one of our interactive messages."""

    button_id: str = ""
    title: str = ""
    context_id: str | None = None  # the message that carried the button


@dataclass(frozen=True)
class QuickReply(Inbound):
    """A template quick reply tapped; ``context`` may be missing."""

    payload: str = ""
    text: str = ""
    context_id: str | None = None


@dataclass(frozen=True)
class OtherInbound(Inbound):
    """A message type Gaung does not read (image, sticker, location…): answered with help."""

    type: str = ""


@dataclass(frozen=True)
class StatusError:
    code: int
    title: str
    details: str | None = None


@dataclass(frozen=True)
class Pricing:
    """Per-message pricing of a status: ``billable`` messages are what Meta charges."""

    billable: bool
    model: str
    category: str
    type: str | None = None


@dataclass(frozen=True)
class Status:
    """``sent`` / ``delivered`` / ``read`` / ``failed`` for one of our messages."""

    message_id: str
    status: str
    timestamp: int
    contact: Contact
    phone_number_id: str
    tracker: str | None = None  # the ``biz_opaque_callback_data`` we sent
    pricing: Pricing | None = None
    errors: tuple[StatusError, ...] = field(default_factory=tuple)

    @property
    def dedupe_key(self) -> str:
        """One message reaches each status once; a repeated one must change nothing."""
        return f"{inbox_key(self.message_id)}:{self.status}"


Event = InboundText | ButtonReply | QuickReply | OtherInbound | Status


def parse_body(body: bytes) -> list[Event]:
    """Events in a verified webhook body, in order; unknown fields and changes are skipped."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("the body is not JSON") from None
    return parse_events(payload)


def parse_events(payload: Any) -> list[Event]:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise BadEvent("not a whatsapp_business_account webhook")
    events: list[Event] = []
    try:
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                if change.get("field") == "messages":
                    events.extend(_parse_value(change.get("value") or {}))
    except KeyError as exc:  # names one of our own keys, never a value
        raise BadEvent(f"malformed webhook: KeyError: {exc}") from None
    except (AttributeError, TypeError, ValueError) as exc:
        # Their text may quote the value (``int('62812…')``): a number or a message, which
        # must not reach the answer or the logs (issue 12).
        raise BadEvent(f"malformed webhook: {type(exc).__name__}") from None
    return events


def _contact(data: Mapping[str, Any]) -> Contact:
    profile = data.get("profile") or {}
    user_id = str(data.get("user_id") or "")
    wa_id = str(data.get("wa_id") or "") or None
    if not user_id and not wa_id:
        raise ValueError("a contact without user_id and wa_id")
    return Contact(
        user_id=user_id,
        wa_id=wa_id,
        name=profile.get("name") or None,
        username=profile.get("username") or None,
    )


def _find_contact(contacts: list[Contact], wa_id: str | None, user_id: str | None) -> Contact:
    """The contact an item belongs to; a lone contact belongs to every item."""
    for contact in contacts:
        if (user_id and contact.user_id == user_id) or (wa_id and contact.wa_id == wa_id):
            return contact
    if len(contacts) == 1:
        return contacts[0]
    if user_id or wa_id:
        return Contact(user_id=user_id or "", wa_id=wa_id or None)
    raise ValueError("an item whose sender cannot be told")


def _parse_value(value: Mapping[str, Any]) -> list[Event]:
    phone_number_id = str((value.get("metadata") or {}).get("phone_number_id") or "")
    contacts = [_contact(c) for c in value.get("contacts") or []]
    events: list[Event] = []
    for message in value.get("messages") or []:
        contact = _find_contact(contacts, message.get("from"), message.get("from_user_id"))
        common: dict[str, Any] = {
            "message_id": str(message["id"]),
            "contact": contact,
            "timestamp": int(message["timestamp"]),
            "phone_number_id": phone_number_id,
        }
        context_id = (message.get("context") or {}).get("id")
        kind = message.get("type")
        if kind == "text":
            events.append(InboundText(**common, text=str(message["text"]["body"])))
        elif kind == "interactive" and message["interactive"].get("type") == "button_reply":
            reply = message["interactive"]["button_reply"]
            events.append(
                ButtonReply(
                    **common,
                    button_id=str(reply["id"]),
                    title=str(reply.get("title") or ""),
                    context_id=context_id,
                )
            )
        elif kind == "button":
            button = message["button"]
            events.append(
                QuickReply(
                    **common,
                    payload=str(button.get("payload") or ""),
                    text=str(button.get("text") or ""),
                    context_id=context_id,
                )
            )
        else:
            events.append(OtherInbound(**common, type=str(kind)))
    for item in value.get("statuses") or []:
        contact = _find_contact(contacts, item.get("recipient_id"), item.get("recipient_user_id"))
        pricing = item.get("pricing")
        events.append(
            Status(
                message_id=str(item["id"]),
                status=str(item["status"]),
                timestamp=int(item["timestamp"]),
                contact=contact,
                phone_number_id=phone_number_id,
                tracker=item.get("biz_opaque_callback_data"),
                pricing=Pricing(
                    billable=bool(pricing.get("billable")),
                    model=str(pricing.get("pricing_model") or ""),
                    category=str(pricing.get("category") or ""),
                    type=pricing.get("type"),
                )
                if pricing
                else None,
                errors=tuple(
                    StatusError(
                        code=int(error["code"]),
                        title=str(error.get("title") or error.get("message") or ""),
                        details=(error.get("error_data") or {}).get("details"),
                    )
                    for error in item.get("errors") or []
                ),
            )
        )
    return events
