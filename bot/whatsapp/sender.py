"""WhatsApp Cloud API as a broadcast channel, through pywa.

Inside the recipient's 24-hour customer-service window a post goes as an interactive message:
the post's text and URL in the body, reply buttons "👍 Sudah Like" / "🔁 Sudah Share". Outside it
only an approved template may be sent: ``GAUNG_WHATSAPP_TEMPLATE`` with the OPD and the URL as
its two body parameters and the same two taps as quick replies (buttons 0 and 1). A button id or
quick-reply payload is the tap format Telegram uses (``g1:<delivery>:<l|s>``), so one parser
reads taps from both channels; the tracker (``biz_opaque_callback_data``) names the delivery, so
status webhooks find their outbox row without a lookup by message id.

"Accepted" is not "delivered": a send that returns a ``wamid`` can still fail by status webhook
(131047 outside the window, 131026 not on WhatsApp). This module only sends and classifies the
synchronous answer; the webhook side records the rest.

Broadcast posts skip pywa's objects: ``post_request`` builds the same Cloud API body pywa would
(a test holds them equal) and the lean client of ``bot.channels.wire`` sends it (pywa's send
path cost ~2 ms of CPU per post at 1,000/s). Replies and notices go through pywa.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from typing import Any

import httpx
from pywa.errors import WhatsAppError
from pywa.types.callback import Button
from pywa.types.sent_update import RecipientType
from pywa_async.client import WhatsApp
from pywa_async.types.sent_update import SentMessage
from pywa_async.types.templates import QuickReplyButton, TemplateLanguage
from pywa_async.utils import Version

from bot.channels import base
from bot.channels.base import OutgoingPost, RecipientRateLimited, Rejected, Transient, Unreachable
from bot.channels.wire import JsonPoster, direct
from bot.conversation.choices import tap_data
from bot.texts import t
from bot.whatsapp.transport import GRAPH_ORIGIN, graph_client

API_VERSION = str(Version.GRAPH_API)  # the latest pywa speaks
TRACKER_PREFIX = "g1"
MAX_BODY = 1024  # interactive body, characters
MAX_BUTTON_TITLE = 20
MAX_BUTTONS = 3
MAX_TEXT = 4096
LIKE_INDEX, SHARE_INDEX = 0, 1  # the template's quick-reply buttons
ELLIPSIS = "…"

# Meta's codes (shared/channels.md, pywa errors.py), by what the broadcaster should do.
THROUGHPUT = 130429
PAIR_RATE = 131056
RATE_LIMITED = {THROUGHPUT, PAIR_RATE, 4, 80007, 131048}
# This recipient, this time: not on WhatsApp, window closed, marketing cap or opt-out, ourselves.
UNREACHABLE = {131026, 131047, 131049, 131050, 131021}
# Nothing sends until an operator acts: token, permissions, policy block, locked account,
# payment, our number's registration, the template (missing, paused, disabled, mismatched).
MISCONFIGURED = {
    0, 3, 10, 190, 368, 131031, 131042, 131045, 133010,
    132000, 132001, 132007, 132012, 132015, 132016,
}  # fmt: skip
TRANSIENT = {1, 2, 131000, 131016, 133004}


class PairRateLimited(RecipientRateLimited):
    """131056: too many messages to this one user; the number itself may go on.

    A ``RecipientRateLimited``: the broadcaster delays just this delivery by ``retry_after``
    and keeps sending to others (a caller that knows only ``RateLimited`` still waits).
    """


def tracker(delivery_id: int) -> str:
    """The ``biz_opaque_callback_data`` of a delivery's message."""
    return f"{TRACKER_PREFIX}:{delivery_id}"


def parse_tracker(value: str | None) -> int | None:
    """The delivery a status webhook is about, or None when the tracker is not ours."""
    if not value:
        return None
    prefix, _, number = value.partition(":")
    return int(number) if prefix == TRACKER_PREFIX and number.isdigit() else None


def button_titles(confirmed: frozenset[str] | set[str]) -> tuple[str, str]:
    like = t("button.liked") if "like" in confirmed else t("button.like")
    share = t("button.shared") if "share" in confirmed else t("button.share")
    return like, share


def post_body(message: OutgoingPost) -> str:
    """The interactive body: the post text, its caption cut so the whole fits 1,024 characters."""
    header_key = "post.reminder_header" if message.reminder else "post.header"
    header = t(header_key, opd=message.opd_nama)

    def render(caption: str) -> str:
        return t("post.body", header=header, caption=f"{caption}\n\n" if caption else "",
                 url=message.url)  # fmt: skip

    caption = message.caption or ""
    body = render(caption)
    if len(body) > MAX_BODY and caption:
        room = len(caption) - (len(body) - MAX_BODY) - len(ELLIPSIS)
        body = render(caption[: max(0, room)].rstrip() + ELLIPSIS if room > 0 else "")
    if len(body) > MAX_BODY:  # an absurdly long URL: Meta would refuse it anyway
        raise Rejected(f"the post does not fit a WhatsApp message ({len(body)} characters)")
    return body


MAX_NOTICE_PARAM = 900  # the notice template's {{1}}; its body as a whole holds 1,024


def template_text(text: str, limit: int = MAX_NOTICE_PARAM) -> str:
    """Text as one template parameter: Meta refuses a parameter with a line break, a tab or
    more than four spaces in a row (132018), so lines are joined with " · " and runs of
    spaces collapsed; too long, it is cut with an ellipsis."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    flat = " · ".join(line for line in lines if line)
    if len(flat) > limit:
        flat = flat[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return flat


def recipient_fields(to: str) -> dict[str, str]:
    """Whom a request is for, as pywa addresses it: a phone number or ``wa_id`` as ``to``, a
    user known only by ``user_id`` (BSUID) as ``recipient``, a group by its id."""
    if not to or not to.strip():
        raise Unreachable(f"invalid recipient: {to!r}")
    kind = RecipientType.from_recipient(to)
    if kind in (RecipientType.BSUID, RecipientType.PARENT_BSUID):
        return {"recipient_type": "individual", "recipient": to}
    if kind == RecipientType.GROUP_ID:
        return {"recipient_type": "group", "to": to}
    return {"recipient_type": "individual", "to": to}


def template_body(message: OutgoingPost) -> dict[str, object]:
    """The template's body parameters: {{1}} the OPD, {{2}} the post's URL."""
    values = (message.opd_nama, message.url)
    return {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}


class WhatsAppChannel:
    """Sends posts from one business number; ``api_url`` may point at the emulator."""

    name = "whatsapp"

    def __init__(
        self,
        token: str,
        phone_id: str,
        *,
        api_url: str = GRAPH_ORIGIN,
        api_version: str = API_VERSION,
        template: str = "gaung_postingan_baru",
        template_language: str = "id",
        notice_template: str = "gaung_pemberitahuan",
        connections: int = 64,
        timeout: float = 15.0,
        throughput_wait: float = 1.0,
        pair_wait: float = 6.0,
        account_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._session = graph_client(
            api_url, connections=connections, timeout=timeout, inner=transport
        )
        self._client = WhatsApp(
            phone_id=phone_id, token=token, session=self._session, api_version=api_version
        )
        # Broadcast posts go through the lean client (``bot.channels.wire``), as the same
        # Cloud API request pywa would build, unless a transport or a proxy is in the way.
        self._wire = (
            JsonPoster(
                f"{api_url.rstrip('/')}/v{api_version.lstrip('v')}/{phone_id}/",
                connections=connections,
                timeout=timeout,
                headers={"Authorization": f"Bearer {token}"},
            )
            if transport is None and direct(api_url)
            else None
        )
        # The number itself (``GET``), asked at start-up: reached, and the token taken.
        self._number_url = f"{GRAPH_ORIGIN}/v{api_version.lstrip('v')}/{phone_id}"
        self._auth = {"Authorization": f"Bearer {token}"}
        self.template = template
        self.template_language = TemplateLanguage(template_language)
        self.notice_template = notice_template
        self._waits = {THROUGHPUT: throughput_wait, PAIR_RATE: pair_wait}
        self._account_wait = account_wait

    async def send_post(self, message: OutgoingPost) -> str:
        if self._wire is not None:
            return await self._post_lean(self.post_request(message))
        like, share = button_titles(message.confirmed)
        like_id = tap_data(message.delivery_id, "like")
        share_id = tap_data(message.delivery_id, "share")
        if message.window_open:
            return await self._call(
                self._client.send_message(
                    to=message.chat_id,
                    text=post_body(message),
                    buttons=[Button(like, like_id), Button(share, share_id)],
                    tracker=tracker(message.delivery_id),
                )
            )
        return await self._call(
            self._client.send_template(
                to=message.chat_id,
                name=self.template,
                language=self.template_language,
                params=[
                    template_body(message),
                    QuickReplyButton.params(callback_data=like_id, index=LIKE_INDEX),
                    QuickReplyButton.params(callback_data=share_id, index=SHARE_INDEX),
                ],
                tracker=tracker(message.delivery_id),
            )
        )

    def post_request(self, message: OutgoingPost) -> dict[str, Any]:
        """The Cloud API body of a post: what pywa's ``send_message`` (buttons) or
        ``send_template`` (the two quick replies) sends for it, built without its objects."""
        like_id = tap_data(message.delivery_id, "like")
        share_id = tap_data(message.delivery_id, "share")
        head = {
            "messaging_product": "whatsapp",
            **recipient_fields(message.chat_id),
            "type": "interactive" if message.window_open else "template",
            "biz_opaque_callback_data": tracker(message.delivery_id),
        }
        if message.window_open:
            like, share = button_titles(message.confirmed)
            buttons = [(like_id, like), (share_id, share)]
            replies = [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in buttons]
            action = {"type": "button", "action": {"buttons": replies}}
            return head | {"interactive": action | {"body": {"text": post_body(message)}}}
        quick = [
            {"type": "button", "sub_type": "QUICK_REPLY", "index": index,
             "parameters": [{"type": "payload", "payload": payload}]}
            for index, payload in ((LIKE_INDEX, like_id), (SHARE_INDEX, share_id))
        ]  # fmt: skip
        language = {"code": self.template_language.value}
        components = [template_body(message), *quick]
        return head | {
            "template": {"name": self.template, "language": language, "components": components}
        }

    async def _post_lean(self, request: dict[str, Any]) -> str:
        """One send through the lean client; failures as ``_call`` reports pywa's."""
        assert self._wire is not None
        body = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            status, raw = await self._wire.post("messages", body)
        except TimeoutError:
            raise Transient("timeout: TimeoutError") from None
        except OSError as exc:
            raise Transient(f"connection: {type(exc).__name__}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if status < 400 and isinstance(answer, dict) and answer.get("messages"):
            return str(answer["messages"][0]["id"])
        error = answer.get("error") if isinstance(answer, dict) else None
        if not isinstance(error, dict) or "code" not in error:
            text = raw.decode(errors="replace")
            error = {"code": status, "message": text or f"Non-JSON error response (HTTP {status})"}
        raise self.classify(WhatsAppError.from_dict(error), status) from None

    async def send_text(
        self,
        to: str,
        text: str,
        buttons: Sequence[tuple[str, str]] = (),
        *,
        tracker: str | None = None,
    ) -> str:
        """A conversation reply inside the window: text, or text with ≤ 3 ``(id, title)`` buttons.

        Checked here against Meta's limits so that a too-long title is our ``Rejected``, not a
        round trip; outside the window Meta accepts it and fails it later with 131047.
        """
        if buttons:
            if len(buttons) > MAX_BUTTONS:
                raise Rejected(f"{len(buttons)} reply buttons; WhatsApp allows {MAX_BUTTONS}")
            for ident, title in buttons:
                if not title or len(title) > MAX_BUTTON_TITLE or not ident:
                    raise Rejected(f"reply button {title!r} breaks WhatsApp's limits")
            if len(text) > MAX_BODY:
                raise Rejected(f"a message with buttons holds {MAX_BODY} characters")
        elif len(text) > MAX_TEXT:
            raise Rejected(f"a text message holds {MAX_TEXT} characters")
        return await self._call(
            self._client.send_message(
                to=to,
                text=text,
                buttons=[Button(title, ident) for ident, title in buttons] or None,
                tracker=tracker,
            )
        )

    async def send_notice(self, to: str, text: str, *, tracker: str | None = None) -> str:
        """A notice outside the recipient's 24-hour window, where free-form text would be
        accepted and then fail (131047): the approved utility template ``notice_template``
        with the text as its one body parameter (flattened: no line breaks in a parameter)."""
        body = {"type": "body", "parameters": [{"type": "text", "text": template_text(text)}]}
        return await self._call(
            self._client.send_template(
                to=to,
                name=self.notice_template,
                language=self.template_language,
                params=[body],
                tracker=tracker,
            )
        )

    async def _call(self, request: Awaitable[SentMessage]) -> str:
        """Await one pywa send; every failure comes out as a ``SendError``."""
        try:
            sent = await request
        except WhatsAppError as error:
            raise self.classify(error) from None
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise Transient(f"connection: {type(exc).__name__}") from None
        except ValueError as exc:  # pywa refuses a recipient it cannot read
            raise Unreachable(f"invalid recipient: {exc}") from None
        return str(sent.id)

    async def check(self) -> None:
        """Ask the Cloud API for the number (``GET /<phone_id>?fields=id``): the cheapest call
        that proves the API is reachable and takes the token. Raises ``Transient`` when it
        cannot be reached (or answers 5xx), ``Misconfigured`` when the token or the number is
        refused; the reason names the error's code, never the token."""
        try:
            response = await self._session.get(
                self._number_url, params={"fields": "id"}, headers=self._auth
            )
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise Transient(f"connection: {type(exc).__name__}") from None
        if response.status_code == 200:
            return
        try:
            error = response.json()["error"]
            code, message = int(error["code"]), str(error.get("message", ""))
        except (ValueError, KeyError, TypeError):
            code, message = response.status_code, response.reason_phrase
        raise classify(code, f"{code}: {message}", status=response.status_code)

    def classify(self, error: WhatsAppError, status: int | None = None) -> base.SendError:
        """Map a Graph API failure to what the broadcaster does; by ``code``, never by title.
        ``status``: the HTTP status, when the error was read without pywa's response."""
        return classify(
            error.code,
            f"{error.code}: {error.details or error.message}",
            status=error.status_code if status is None else status,
            transient=error.is_transient,
            waits=self._waits,
            account_wait=self._account_wait,
        )

    async def aclose(self) -> None:
        await self._session.aclose()
        if self._wire is not None:
            await self._wire.aclose()


def classify(
    code: int,
    reason: str,
    *,
    status: int | None = None,
    transient: bool | None = None,
    waits: dict[int, float] | None = None,
    account_wait: float = 60.0,
) -> base.SendError:
    if code == PAIR_RATE:
        return PairRateLimited(reason, (waits or {}).get(code, account_wait))
    if code in RATE_LIMITED:
        return base.RateLimited(reason, (waits or {}).get(code, account_wait))
    if code in UNREACHABLE:
        return Unreachable(reason)
    if code == 429 or status == 429:
        return base.RateLimited(reason, account_wait)
    if code in MISCONFIGURED or 200 <= code < 300 or status in (401, 404) or code in (401, 404):
        return base.Misconfigured(reason)  # bad token, wrong phone id or API URL: an operator acts
    if code in TRANSIENT or transient or 500 <= code < 600 or (status or 0) >= 500:
        return Transient(reason)
    return Rejected(reason)
