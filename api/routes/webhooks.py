"""Inbound webhooks. Secrets are compared in constant time; a bad one gets 403 and nothing else.

The two webhooks are the routes under load (a burst of Telegram taps after a broadcast: 1,000
a second; WhatsApp's status webhooks: two or three per message sent, 2,000 a second), so their
POSTs are answered by ``Webhooks``, a plain ASGI wrapper inside the hardening (``api.guards``:
body size and nesting are checked before it) and the latency metric, in front of FastAPI's own
stack. Measured under such a burst, FastAPI's routing over every route, dependency solving,
``Request`` and exception layers took about six times the CPU of the handler itself, and that
CPU (with the garbage it leaves) is what the inbox writer's thread waits on for the GIL between
its round trips to the database. The FastAPI routes stay for the API's description and for
servers without the wrapper; both answer through the same ``answer_*`` function, so they
cannot drift apart.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import APIRouter, Request, Response

from api.deps import SettingsDep
from api.guards import ASGIApp, Receive, Scope, Send
from api.routes.whatsapp import WHATSAPP_PATH, answer_whatsapp
from api.schemas import problems
from bot.inbox import NotStored

router = APIRouter(tags=["webhook"], include_in_schema=True, responses=problems(400, 403, 413, 503))
TELEGRAM_PATH = "/webhook/telegram"
JSON = "application/json"
# (application state, the header carrying the secret or signature, the exact body) → answer
Answer = Callable[[Any, str | None, bytes], Awaitable[tuple[int, bytes]]]


async def answer_telegram(state: Any, given: str | None, body: bytes) -> tuple[int, bytes]:
    """The webhook's answer to one update from Telegram: (status, JSON body or b"").

    ``state`` is the application's state (settings, the running Telegram service); ``given``
    the ``X-Telegram-Bot-Api-Secret-Token`` header."""
    secret = state.settings.telegram_webhook_secret
    if not secret or given is None or not hmac.compare_digest(given.encode(), secret.encode()):
        return 403, b'{"detail": "secret token salah"}'
    service = getattr(state, "telegram", None)
    if service is None:
        return 503, b'{"detail": "bot Telegram tidak berjalan di server ini"}'
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return 400, b'{"detail": "badan permintaan bukan JSON"}'
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return 400, b'{"detail": "update_id tidak ada"}'
    try:
        answer = await service.receive(payload)
    except NotStored:  # Telegram retries anything but a 2xx
        return 503, b'{"detail": "pembaruan belum tersimpan"}'
    if answer is None:
        return 200, b""
    return 200, json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


@router.post(TELEGRAM_PATH, summary="Pembaruan dari Telegram (dengan secret token)")
async def telegram_webhook(request: Request, settings: SettingsDep) -> Response:
    del settings  # read from the application's state by ``answer_telegram``, as the wrapper does
    status, body = await answer_telegram(
        request.app.state,
        request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
        await request.body(),
    )
    return Response(body, status, media_type=JSON if body else None)


class _Route:
    """What ``api.metrics.LatencyMiddleware`` reads from ``scope["route"]``: the template."""

    def __init__(self, path: str) -> None:
        self.path = path


class Webhooks:
    """Answer the webhooks' POSTs directly (see the module's docstring); pass the rest on.

    Sits inside ``api.guards.Guards``, which has already refused a body too large or too deeply
    nested and read the body whole; a webhook's body is small, so it is read here in one piece
    too, and handed on exactly as it came (WhatsApp's signature covers these bytes).
    """

    # path → (the header with the secret or signature, lower-case as ASGI gives it; answer)
    HOOKS: ClassVar[dict[str, tuple[bytes, Answer]]] = {
        TELEGRAM_PATH: (b"x-telegram-bot-api-secret-token", answer_telegram),
        WHATSAPP_PATH: (b"x-hub-signature-256", answer_whatsapp),
    }
    routes: ClassVar[dict[str, _Route]] = {path: _Route(path) for path in HOOKS}

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hook = self.HOOKS.get(scope["path"]) if scope["type"] == "http" else None
        if hook is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        header, answer = hook
        given: str | None = None
        for name, value in scope["headers"]:
            if name == header:
                given = value.decode("latin-1")
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body arrived: nothing to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        scope["route"] = self.routes[scope["path"]]
        status, body = await answer(scope["app"].state, given, b"".join(chunks))
        headers = [(b"content-length", str(len(body)).encode())]
        if body:
            headers.append((b"content-type", JSON.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
