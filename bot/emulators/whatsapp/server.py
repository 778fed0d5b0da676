"""The emulator's HTTP face: ``POST /v<ver>/<phone_id>/messages`` (and ``GET /v<ver>/<phone_id>``),
signed webhooks, control API.

Webhooks go out as Meta sends them: one JSON body, its bytes signed with
``X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, body)>``, non-ASCII and ``/`` escaped
(so a receiver that re-serialises before checking computes another digest), redelivered with a
doubling delay until the receiver answers 200, and sometimes delivered twice.

The control API (``POST /_emulator/<op>`` with JSON arguments, answered ``{"result": …}``) lets
a test or benchmark drive an emulator running in another process the way an in-process test
drives the ``World``: ``add_user`` / ``add_users`` / ``update_user``, ``say`` / ``say_many``,
``press`` / ``quick_reply`` / ``read`` (a user's taps by label), ``messages`` (what a user
received), ``set_limits``, ``set_webhook``, ``add_template`` / ``set_template_status``,
``inject_fault`` (error, slow, drop, lost), ``advance`` and ``freeze_clock`` (the clock),
``verify_webhook`` (the GET handshake), ``pending_webhooks``, ``stats``, ``delivered_counts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulators.control import ControlledEmulator, DroppedResponse, emulator_app
from bot.emulators.whatsapp.payloads import ApiError, Template, TemplateButton
from bot.emulators.whatsapp.records import Call, Sent
from bot.emulators.whatsapp.world import World

log = logging.getLogger("gaung.emulator.whatsapp")
POLL_STEP = 0.02


def encode_event(event: dict[str, Any]) -> bytes:
    """Serialise as Meta does: ASCII only, ``/`` escaped; the signature covers these bytes."""
    text = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode()


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Pending:
    body: bytes
    attempts: int = 0
    due: float = 0.0  # time.monotonic() of the next try
    delay: float = 0.0


class Emulator(ControlledEmulator):
    world: World

    def __init__(self, world: World) -> None:
        super().__init__(world, CONTROL_OPS)
        self._ready: asyncio.Queue[Pending] = asyncio.Queue()
        self._retry: list[tuple[float, int, Pending]] = []  # a heap by due time
        self._sequence = itertools.count()
        self._in_flight = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # set once webhooks run

    # ----- Graph API ----------------------------------------------------------------------
    def _refused_token(self, request: Request) -> ApiError | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token in self.world.tokens:
            return None
        return ApiError(
            190, "Error validating access token: the session is invalid or has expired.",
            status=401,
        )  # fmt: skip

    async def phone_number(self, request: Request) -> Response:
        """``GET /v<ver>/<phone_id>``: the number itself, as Gaung asks it at start-up to know
        the Cloud API is reachable and takes its token. Injected faults are the sends'."""
        phone_id = request.path_params["phone_id"]
        refused = self._refused_token(request)
        if refused is None and phone_id != self.world.phone_id:
            refused = ApiError(100, f"Object with ID '{phone_id}' does not exist", subcode=33)
        if refused is not None:
            return JSONResponse(refused.body(), status_code=refused.status)
        number = self.world.display_phone_number
        return JSONResponse({"id": phone_id, "display_phone_number": number})

    async def messages(self, request: Request) -> Response:
        phone_id = request.path_params["phone_id"]
        world = self.world
        refused = self._refused_token(request)
        if refused is not None:
            return self._failure(phone_id, {}, refused)
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
        if fault is not None and fault.kind == "lost":
            return DroppedResponse()  # sent, but the answer never arrives
        return JSONResponse(result)

    def _failure(self, phone_id: str, body: dict[str, Any], error: ApiError) -> Response:
        with self.world.lock:
            self.world.calls.append(
                Call(self.world.clock(), phone_id, body, error.status, error.code)
            )
        return JSONResponse(error.body(), status_code=error.status)

    # ----- webhooks -----------------------------------------------------------------------
    async def deliver_webhooks(self) -> None:
        """Push queued events to the webhook, redelivering failures with growing delays.

        ``webhook_connections`` workers take events from one queue; each small group of them
        shares a client of a few connections (httpcore scans a whole pool on every request, so
        one big pool would cost the emulator more CPU than the events themselves).
        """
        self.loop = asyncio.get_running_loop()
        count = max(1, int(self.world.limits.webhook_connections))
        clients = [
            httpx.AsyncClient(
                timeout=httpx.Timeout(10.0, connect=2.0),
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
            for _ in range(-(-count // 4))
        ]
        workers = [asyncio.create_task(self._worker(clients[n // 4])) for n in range(count)]
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_STEP)
                self._wake.clear()
                self._refill()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for client in clients:
                await client.aclose()

    def _refill(self) -> None:
        """New events, then redeliveries that are due, into the workers' queue."""
        world = self.world
        with world.lock:
            if not world.webhook.url:
                return
            batch = max(1, int(world.limits.webhook_batch))
            while world.events:
                events = [world.events.popleft() for _ in range(min(batch, len(world.events)))]
                if len(events) > 1:  # Meta may batch: one body, several entries
                    merged = {
                        "object": events[0]["object"],
                        "entry": [e["entry"][0] for e in events],
                    }
                    self._ready.put_nowait(Pending(encode_event(merged)))
                else:
                    self._ready.put_nowait(Pending(encode_event(events[0])))
        now = time.monotonic()
        while self._retry and self._retry[0][0] <= now:
            self._ready.put_nowait(heapq.heappop(self._retry)[2])

    def _copies(self) -> int:
        hook, limits = self.world.webhook, self.world.limits
        if hook.duplicates > 0:
            hook.duplicates -= 1
            return 2
        if limits.duplicate_rate > 0 and self.world.random.random() < limits.duplicate_rate:
            return 2
        return 1

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while True:
            item = await self._ready.get()
            self._in_flight += 1
            try:
                await self._push(client, item)
            finally:
                self._in_flight -= 1

    async def _push(self, client: httpx.AsyncClient, item: Pending) -> None:
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
                if not url:
                    break  # the webhook was removed: keep the event for when one is set
                response = await client.post(url, content=item.body, headers=headers)
                ok = response.status_code == 200
                with world.lock:
                    if ok:
                        world.webhook.delivered += 1
                    else:
                        world.webhook.failures += 1
                if not ok:
                    break
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.debug("webhook delivery failed: %s", exc)
            with world.lock:
                world.webhook.failures += 1
        if not ok:
            limits = world.limits
            item.attempts += 1
            item.delay = min(limits.webhook_retry_cap, item.delay * 2 or limits.webhook_retry_base)
            item.due = time.monotonic() + item.delay
            heapq.heappush(self._retry, (item.due, next(self._sequence), item))

    async def swap(self, world: World) -> None:
        """Serve a fresh world (tests reuse one server); undelivered events of the old one go."""
        while not self._ready.empty():
            self._ready.get_nowait()
        self._retry.clear()
        self.world = world

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def pending_webhooks(self) -> int:
        """Events not yet answered with 200 (queued, in flight or waiting to be redelivered)."""
        with self.world.lock:
            queued = len(self.world.events)
        return queued + self._ready.qsize() + self._in_flight + len(self._retry)

    # ----- control ------------------------------------------------------------------------
    async def run_op(self, op: str, args: dict[str, Any]) -> Any:
        if op == "verify_webhook":
            return await verify_webhook(self.world, **args)
        if op == "pending_webhooks":
            return self.pending_webhooks()
        return await super().run_op(op, args)


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
    "update_user": lambda w, user, **fields: w.update_user(user, **fields),
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
    "freeze_clock": lambda w: w.freeze_clock(),
    "say": lambda w, user, text: w.say(user, text)["id"],
    "say_many": lambda w, users, text: [w.say(u, text)["id"] for u in users],
    "press": lambda w, user, message_id, label: w.press(user, message_id, label)["id"],
    "quick_reply": lambda w, user, message_id, label: w.quick_reply(user, message_id, label)["id"],
    "read": lambda w, user, message_id: w.read(user, message_id),
    "messages": lambda w, user: [sent_view(m) for m in w.messages(user)],
    "stats": lambda w: w.stats(),
    "delivered_counts": lambda w: dict(w.delivered_counts()),
    "accepted_times": lambda w: w.accepted_times(),
    "verify_webhook": None,  # async: handled in ``control``
    "pending_webhooks": None,
}


def create_app(world: World) -> Starlette:
    emulator = Emulator(world)
    route = Route("/v{version}/{phone_id}/messages", emulator.messages, methods=["POST"])
    number = Route("/v{version}/{phone_id}", emulator.phone_number, methods=["GET"])
    return emulator_app(emulator, route, number)
