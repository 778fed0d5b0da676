"""What the emulated world holds: users, the messages sent to them, calls, the webhook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class User:
    wa_id: str
    user_id: str  # business-scoped user id (BSUID), e.g. ``ID.1000000000001``
    name: str
    username: str | None = None
    hide_phone: bool = False  # adopted a username: webhooks carry an empty wa_id
    read_receipts: bool = True
    last_inbound: float | None = None  # clock time of the user's last message
    stopped_marketing: bool = False

    def contact(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"name": self.name}
        if self.username:
            profile["username"] = self.username
        return {
            "profile": profile,
            "wa_id": "" if self.hide_phone else self.wa_id,
            "user_id": self.user_id,
        }


@dataclass
class Sent:
    """One message the business sent, as the recipient's phone holds it."""

    id: str
    to: str  # the wa_id or BSUID it was addressed to
    user: User | None
    type: str  # text | interactive | template
    payload: dict[str, Any]
    tracker: str | None
    at: float
    pricing: dict[str, Any]
    statuses: list[str] = field(default_factory=list)
    error: int | None = None

    def buttons(self) -> list[dict[str, str]]:
        """Reply buttons (``id``, ``title``) or template quick replies (``payload``, ``text``)."""
        if self.type == "interactive":
            action = self.payload.get("action") or {}
            return [dict(b["reply"]) for b in action.get("buttons") or []]
        if self.type == "template":
            return [dict(b) for b in self.payload.get("_quick_replies", [])]
        return []

    def text(self) -> str:
        if self.type == "text":
            return str(self.payload.get("body", ""))
        if self.type == "interactive":
            return str((self.payload.get("body") or {}).get("text", ""))
        return str(self.payload.get("_rendered", ""))


@dataclass
class Call:
    at: float
    phone_id: str
    body: dict[str, Any]
    status: int
    error_code: int | None = None


@dataclass
class Webhook:
    url: str | None = None
    app_secret: str = ""
    verify_token: str = ""
    duplicates: int = 0  # the next N events are delivered twice
    delivered: int = 0  # POSTs that got a 200
    failures: int = 0  # POSTs that did not
