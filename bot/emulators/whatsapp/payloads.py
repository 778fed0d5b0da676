"""What a ``/messages`` request may carry, and what Meta answers when it may not.

Limits from ``shared/channels.md``: reply buttons at most 3 with titles ≤ 20 characters and ids
≤ 256, body ≤ 1,024, footer ≤ 60; templates checked by name, language, status and parameters
(132000–132016); errors in Meta's envelope with the code clients must build their logic on.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_BODY = 1024
MAX_FOOTER = 60
MAX_TEXT = 4096
MAX_TRACKER = 512
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


# ----- errors -------------------------------------------------------------------------------
# Titles as Meta words them; clients build logic on ``code``, never on titles.
TITLES: dict[int, str] = {
    1: "API Unknown",
    2: "API Service",
    4: "Application request limit reached",
    100: "Invalid parameter",
    190: "Access token has expired",
    130429: "Rate limit hit",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "User has stopped marketing messages",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132018: "There was an issue with the parameters in your template.",
    132015: "Template is Paused",
    132016: "Template is Disabled",
}


class ApiError(Exception):
    """A Graph API failure, answered as Meta's error envelope with its HTTP status."""

    def __init__(
        self,
        code: int,
        details: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        kind: str = "OAuthException",
    ) -> None:
        super().__init__(f"({code}) {details}")
        self.code = code
        self.details = details
        self.status = status
        self.subcode = subcode
        self.kind = kind

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": f"(#{self.code}) {TITLES.get(self.code, 'Error')}",
            "type": self.kind,
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
            "fbtrace_id": base64.urlsafe_b64encode(secrets.token_bytes(15)).decode(),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def status_error(code: int, details: str) -> dict[str, Any]:
    """The ``errors[]`` item of a ``failed`` status webhook."""
    title = TITLES.get(code, "Error")
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
    }


@dataclass
class TemplateButton:
    kind: str  # "quick_reply" | "url"
    text: str
    url: str | None = None  # a URL button's address; ``{{1}}`` at its end takes a parameter


@dataclass
class Template:
    name: str
    language: str
    body: str
    buttons: list[TemplateButton] = field(default_factory=list)
    category: str = "marketing"  # Meta may judge a "please like and share" template so
    status: str = "APPROVED"  # APPROVED | PAUSED | DISABLED

    @property
    def body_params(self) -> int:
        return len(set(PLACEHOLDER.findall(self.body)))


GAUNG_TEMPLATE = Template(
    name="gaung_postingan_baru",
    language="id",
    body="📣 Unggahan baru dari {{1}}\n\n{{2}}\n\nBuka tautan, beri like dan bagikan dari akun "
    "Anda sendiri, lalu tandai di bawah ini.",
    buttons=[
        TemplateButton("quick_reply", "👍 Sudah Like"),
        TemplateButton("quick_reply", "🔁 Sudah Share"),
    ],
)


# A utility template for admin notices outside the 24-hour window (free-form would fail 131047).
NOTICE_TEMPLATE = Template(
    name="gaung_pemberitahuan",
    language="id",
    body="Pemberitahuan dari Gaung: {{1}}",
    category="utility",
)
# Meta refuses a parameter with a line break, a tab or more than four spaces in a row.
BAD_PARAM = re.compile(r"[\n\t]| {5,}")


def check_template(
    templates: dict[tuple[str, str], Template], data: Any
) -> tuple[Template, dict[str, Any]]:
    """Name and language registered, approved, and every parameter where the template has one."""
    if not isinstance(data, dict) or not data.get("name"):
        raise ApiError(131008, "The parameter template.name is required.")
    name = str(data["name"])
    language = str((data.get("language") or {}).get("code") or "")
    template = templates.get((name, language))
    if template is None:
        raise ApiError(132001, f"template name ({name}) does not exist in {language}")
    if template.status == "PAUSED":
        raise ApiError(132015, f"Template {name} is paused due to low quality.")
    if template.status == "DISABLED":
        raise ApiError(132016, f"Template {name} is disabled due to low quality.")
    components = data.get("components") or []
    body_values: list[str] = []
    button_params: dict[int, dict[str, Any]] = {}
    for component in components:
        ctype = str(component.get("type", "")).lower()
        params = component.get("parameters") or []
        if ctype == "body":
            body_values = [str(p.get("text", "")) for p in params]
            if any(p.get("type") != "text" or not p.get("text") for p in params):
                raise ApiError(132000, "Body parameters must be non-empty text.")
            if any(BAD_PARAM.search(value) for value in body_values):
                raise ApiError(
                    132018,
                    "Param text cannot have new-line/tab characters or more than 4 "
                    "consecutive spaces",
                )
        elif ctype == "button":
            index = int(component.get("index", -1))
            if not 0 <= index < len(template.buttons):
                raise ApiError(132000, f"The template has no button {index}.")
            expected = template.buttons[index].kind
            if str(component.get("sub_type", "")).lower() != expected:
                raise ApiError(132000, f"Button {index} is a {expected} button.")
            if len(params) != 1:
                raise ApiError(132000, f"Button {index} takes exactly one parameter.")
            button_params[index] = params[0]
        elif ctype != "header":
            raise ApiError(132000, f"Unknown component {ctype!r}.")
    if len(body_values) != template.body_params:
        raise ApiError(
            132000,
            f"body: number of localizable_params ({len(body_values)}) does not match the "
            f"expected number of params ({template.body_params})",
        )
    quick: list[dict[str, str]] = []
    for index, button in enumerate(template.buttons):
        param = button_params.get(index, {})
        dynamic = button.kind == "url" and PLACEHOLDER.search(button.url or "")
        if dynamic and not param.get("text"):
            raise ApiError(132000, f"URL button {index} needs its parameter.")
        if button.kind == "quick_reply":
            payload = str(param.get("payload") or button.text)
            quick.append({"payload": payload, "text": button.text})
    rendered = PLACEHOLDER.sub(
        lambda m: (
            body_values[int(m.group(1)) - 1] if int(m.group(1)) <= len(body_values) else m.group(0)
        ),
        template.body,
    )
    return template, {**data, "_rendered": rendered, "_quick_replies": quick}


def pricing(kind: str, category: str | None, in_window: bool) -> dict[str, Any]:
    """The per-message pricing (PMP) object of a status: what the message costs."""
    if kind != "template":
        return {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
    free = in_window and category in ("utility", "service")
    return {
        "billable": not free,
        "pricing_model": "PMP",
        "type": "free_customer_service" if free else "regular",
        "category": category or "marketing",
    }


def check_text(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not data.get("body"):
        raise ApiError(131008, "The parameter text.body is required.")
    if len(str(data["body"])) > MAX_TEXT:
        raise ApiError(131009, f"text.body is longer than {MAX_TEXT} characters.")
    return dict(data)


def check_interactive(data: Any) -> dict[str, Any]:
    """Reply-button messages: 1–3 buttons, titles ≤ 20, ids ≤ 256, body ≤ 1,024."""
    if not isinstance(data, dict):
        raise ApiError(131008, "The parameter interactive is required.")
    kind = data.get("type")
    body = str((data.get("body") or {}).get("text") or "")
    if not body:
        raise ApiError(131008, "The parameter interactive.body.text is required.")
    if len(body) > MAX_BODY:
        raise ApiError(131009, f"interactive.body.text is longer than {MAX_BODY} characters.")
    footer = (data.get("footer") or {}).get("text")
    if footer is not None and len(str(footer)) > MAX_FOOTER:
        raise ApiError(131009, f"interactive.footer.text is longer than {MAX_FOOTER} characters.")
    action = data.get("action") or {}
    if kind == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            raise ApiError(131009, "interactive.action.buttons must hold 1 to 3 buttons.")
        seen: set[str] = set()
        for button in buttons:
            reply = button.get("reply") or {}
            title, ident = str(reply.get("title") or ""), str(reply.get("id") or "")
            if button.get("type") != "reply" or not title or not ident:
                raise ApiError(131008, "A reply button needs a type, an id and a title.")
            if len(title) > MAX_BUTTON_TITLE:
                raise ApiError(131009, f"Button title length is too long: {title!r}.")
            if len(ident) > MAX_BUTTON_ID or ident in seen:
                raise ApiError(131009, f"Button id is too long or repeated: {ident!r}.")
            seen.add(ident)
    elif kind == "cta_url":
        params = action.get("parameters") or {}
        if action.get("buttons") or not params.get("url") or not params.get("display_text"):
            raise ApiError(131009, "A CTA URL message has exactly one URL button.")
    else:
        raise ApiError(131009, f"Unsupported interactive type {kind!r}.")
    return dict(data)
