"""The emulator's HTTP face: ``POST /v<ver>/<phone_id>/messages``, signed webhooks, control API.

Webhooks go out as Meta sends them: one JSON body, its bytes signed with
``X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, body)>``, non-ASCII and ``/`` escaped
(so a receiver that re-serialises before checking computes another digest), redelivered with a
doubling delay until the receiver answers 200, and sometimes delivered twice.

The control API (``POST /_emulator/<op>`` with JSON arguments) lets a test or benchmark drive an
emulator running in another process the way an in-process test drives the ``World``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.emulators.whatsapp.payloads import ApiError, Template, TemplateButton
from bot.emulators.whatsapp.world import Call, Sent, World

log = logging.getLogger("gaung.emulator.whatsapp")
POLL_STEP = 0.02


def encode_event(event: dict[str, Any]) -> bytes:
    """Serialise as Meta does: ASCII only, ``/`` escaped; the signature covers these bytes."""
    text = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode()


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class DropConnection(Exception):
    """Raised after the answer has started, so the server closes the connection."""


class DroppedResponse(Response):
    """A connection closed mid-answer, as a failing peer or network does."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"99")]}
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise DropConnection


@dataclass
class Pending:
    body: bytes
    attempts: int = 0
    due: float = 0.0  # time.monotonic() of the next try
    delay: float = 0.0


class Emulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self._wake = asyncio.Event()
        self._pending: list[Pending] = []
        self._in_flight = 0
        self._client: httpx.AsyncClient | None = None

    # ----- Graph API ----------------------------------------------------------------------
    async def messages(self, request: Request) -> Response:
        phone_id = request.path_params["phone_id"]
        world = self.world
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token not in world.tokens:
            error = ApiError(
                190, "Error validating access token: the session is invalid or has expired.",
                status=401,
            )  # fmt: skip
            return self._failure(phone_id, {}, error)
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self._failure(phone_id, {}, ApiError(100, "The request body is not JSON."))
        if phone_id != world.phone_id:
            error = ApiError(
                100,
                f"Unsupported post request. Object with ID '{phone_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                kind="GraphMethodException",
            )
            return self._failure(phone_id, body, error)
        fault = world.take_fault()
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "error":
                error = ApiError(2, "Service temporarily unavailable.", status=fault.status)
                return self._failure(phone_id, body, error)
            elif fault.kind == "drop":
                return DroppedResponse()
        with world.lock:
            try:
                result = world.send(body)
            except ApiError as error:
                return self._failure(phone_id, body, error)
            world.calls.append(Call(world.clock(), phone_id, body, 200))
        self._wake.set()
        return JSONResponse(result)

    def _failure(self, phone_id: str, body: dict[str, Any], error: ApiError) -> Response:
        with self.world.lock:
            self.world.calls.append(
                Call(self.world.clock(), phone_id, body, error.status, error.code)
            )
        return JSONResponse(error.body(), status_code=error.status)

    # ----- webhooks -----------------------------------------------------------------------
    async def deliver_webhooks(self) -> None:
        """Push queued events to the webhook, redelivering failures with growing delays."""
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_STEP)
                self._wake.clear()
                for item in self._due():
                    task = asyncio.create_task(self._push(item))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await self._client.aclose()

    def _due(self) -> list[Pending]:
        world = self.world
        with world.lock:
            if not world.webhook.url:
                return []
            while world.events:
                self._pending.append(Pending(encode_event(world.events.popleft())))
            now = time.monotonic()
            room = world.limits.webhook_connections - self._in_flight
            due = [p for p in self._pending if p.due <= now][: max(0, room)]
            for item in due:
                self._pending.remove(item)
            self._in_flight += len(due)
            return due

    def _copies(self) -> int:
        hook, limits = self.world.webhook, self.world.limits
        if hook.duplicates > 0:
            hook.duplicates -= 1
            return 2
        if limits.duplicate_rate > 0 and self.world.random.random() < limits.duplicate_rate:
            return 2
        return 1

    async def _push(self, item: Pending) -> None:
        assert self._client is not None
        world = self.world
        with world.lock:
            url, secret = world.webhook.url, world.webhook.app_secret
            copies = self._copies()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(secret, item.body),
        }
        ok = False
        try:
            for _ in range(copies):
                assert url is not None
                response = await self._client.post(url, content=item.body, headers=headers)
                ok = response.status_code == 200
                with world.lock:
                    if ok:
                        world.webhook.delivered += 1
                    else:
                        world.webhook.failures += 1
                if not ok:
                    break
        except httpx.HTTPError as exc:
            log.debug("webhook delivery failed: %s", exc)
            with world.lock:
                world.webhook.failures += 1
        with world.lock:
            self._in_flight -= 1
            if not ok:
                limits = world.limits
                item.attempts += 1
                item.delay = min(
                    limits.webhook_retry_cap, item.delay * 2 or limits.webhook_retry_base
                )
                item.due = time.monotonic() + item.delay
                self._pending.append(item)
        self._wake.set()

    def pending_webhooks(self) -> int:
        with self.world.lock:
            return len(self._pending) + self._in_flight + len(self.world.events)

    # ----- control ------------------------------------------------------------------------
    async def control(self, request: Request) -> Response:
        op = request.path_params["op"]
        if op not in CONTROL_OPS:
            return JSONResponse({"detail": f"unknown op {op}"}, status_code=404)
        try:
            args = await request.json() if await request.body() else {}
            result: Any
            if op == "verify_webhook":
                result = await verify_webhook(self.world, **args)
            elif op == "pending_webhooks":
                result = self.pending_webhooks()
            else:
                result = CONTROL_OPS[op](self.world, **args)
        except (TypeError, ValueError, KeyError) as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        self._wake.set()
        return JSONResponse({"result": result})


async def verify_webhook(
    world: World, url: str | None = None, verify_token: str | None = None
) -> bool:
    """Meta's subscription handshake: GET with a challenge; true when it comes back as sent."""
    with world.lock:
        url = url or world.webhook.url
        token = world.webhook.verify_token if verify_token is None else verify_token
    if not url:
        raise ValueError("no webhook url")
    challenge = str(secrets.randbelow(10**9) + 1)
    params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": token}
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url, params=params)
    return response.status_code == 200 and response.text == challenge


def sent_view(message: Sent) -> dict[str, Any]:
    """A sent message as the control API shows it (JSON-safe)."""
    return {
        "id": message.id,
        "to": message.to,
        "type": message.type,
        "text": message.text(),
        "buttons": message.buttons(),
        "tracker": message.tracker,
        "statuses": list(message.statuses),
        "error": message.error,
        "pricing": message.pricing,
    }


def _add_template(world: World, name: str, language: str, body: str, **kw: Any) -> str:
    buttons = [TemplateButton(**b) for b in kw.pop("buttons", [])]
    world.add_template(Template(name, language, body, buttons, **kw))
    return name


CONTROL_OPS: dict[str, Any] = {
    "add_user": lambda w, **kw: w.add_user(**kw).contact(),
    "add_users": lambda w, count, in_window=False: w.add_users(count, in_window=in_window),
    "set_limits": lambda w, **limits: w.set_limits(**limits),
    "set_webhook": lambda w, url, app_secret="", verify_token="": w.set_webhook(
        url, app_secret=app_secret, verify_token=verify_token
    ),
    "add_template": _add_template,
    "set_template_status": lambda w, name, language, status: w.set_template_status(
        name, language, status
    ),
    "inject_fault": lambda w, kind, **kw: w.inject_fault(kind, **kw),
    "advance": lambda w, seconds: w.advance(seconds),
    "say": lambda w, user, text: w.say(user, text)["id"],
    "press": lambda w, user, message_id, label: w.press(user, message_id, label)["id"],
    "quick_reply": lambda w, user, message_id, label: w.quick_reply(user, message_id, label)["id"],
    "read": lambda w, user, message_id: w.read(user, message_id),
    "messages": lambda w, user: [sent_view(m) for m in w.messages(user)],
    "stats": lambda w: w.stats(),
    "delivered_counts": lambda w: dict(w.delivered_counts()),
    "verify_webhook": None,  # async: handled in ``control``
    "pending_webhooks": None,
}


def create_app(world: World) -> Starlette:
    emulator = Emulator(world)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(emulator.deliver_webhooks())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(
        routes=[
            Route("/v{version}/{phone_id}/messages", emulator.messages, methods=["POST"]),
            Route("/_emulator/{op}", emulator.control, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app
