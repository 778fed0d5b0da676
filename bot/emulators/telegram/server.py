"""The emulator's HTTP face: ``/bot<token>/<method>``, webhook delivery and a control API.

The control API (``POST /_emulator/<op>`` with JSON arguments) lets a benchmark or the demo
drive an emulator running in another process the way tests drive an in-process ``World``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulators.control import ControlledEmulator, DroppedResponse, emulator_app
from bot.emulators.telegram.methods import MESSAGE_METHODS, METHODS, take_updates
from bot.emulators.telegram.world import ApiError, Bot, Call, World

log = logging.getLogger("gaung.emulator.telegram")
POLL_STEP = 0.02


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method != "POST":
        return params
    if kind == "application/json":
        body = await request.body()
        if body:
            try:
                data = json.loads(body)
            except json.JSONDecodeError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(data, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            params.update(data)
    elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        async with request.form() as form:
            for key, value in form.multi_items():
                params[key] = value if isinstance(value, str) else f"upload:{value.filename}"
    return params


def _answer(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _failure(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.code)


class Emulator(ControlledEmulator):
    world: World

    def __init__(self, world: World) -> None:
        super().__init__(world, CONTROL_OPS)
        self._in_flight: set[tuple[str, int]] = set()
        self._retry_at: dict[tuple[str, int], tuple[float, float]] = {}
        self._client: httpx.AsyncClient | None = None

    # ----- Bot API --------------------------------------------------------------------------
    async def bot_api(self, request: Request) -> Response:
        token = request.path_params["token"]
        name = request.path_params["method"]
        method = name.lower()
        bot = self.world.bots.get(token)
        if bot is None:
            return _failure(ApiError(401, "Unauthorized"))
        try:
            params = await _params(request)
        except ApiError as error:
            return _failure(error)
        fault = self.world.take_fault(method)
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "error" and fault.status == 429:
                # A flood wait of ``delay`` seconds (at least 1), as Telegram words it.
                self._log(bot, name, params, 429, "injected fault")
                wait = max(1, math.ceil(fault.delay))
                return _failure(
                    ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
                )
            elif fault.kind == "error":
                self._log(bot, name, params, fault.status, "injected fault")
                return JSONResponse(
                    {
                        "ok": False,
                        "error_code": fault.status,
                        "description": "Internal Server Error",
                    },
                    status_code=fault.status,
                )
            elif fault.kind == "drop":
                self._log(bot, name, params, 0, "dropped")
                return DroppedResponse()
        if method == "getupdates":
            response = await self._get_updates(bot, name, params)
        else:
            response = self._call(bot, name, method, params)
        if fault is not None and fault.kind == "lost":
            return DroppedResponse()  # done, but the answer never arrives
        return response

    def _call(self, bot: Bot, name: str, method: str, params: dict[str, Any]) -> Response:
        handler = METHODS.get(method)
        with self.world.lock:
            try:
                if handler is None:
                    raise ApiError(404, "Not Found: method not found")
                result = handler(self.world, bot, params)
            except ApiError as error:
                self._log(bot, name, params, error.code, error.description)
                return _failure(error)
            self._log(bot, name, params, 200)
        if method in ("setwebhook", "deletewebhook"):
            self._wake.set()
        return _answer(result)

    async def _get_updates(self, bot: Bot, name: str, params: dict[str, Any]) -> Response:
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(max(timeout, 0.0), 50.0)
        with self.world.lock:
            bot.polls += 1
        try:
            while True:
                with self.world.lock:
                    try:
                        updates = take_updates(self.world, bot, params)
                    except ApiError as error:
                        self._log(bot, name, params, error.code, error.description)
                        return _failure(error)
                    if updates or time.monotonic() >= deadline:
                        self._log(bot, name, params, 200)
                        return _answer(updates)
                await asyncio.sleep(POLL_STEP)
        finally:
            with self.world.lock:
                bot.polls -= 1

    def _log(
        self, bot: Bot, method: str, params: dict[str, Any], status: int, error: str | None = None
    ) -> None:
        with self.world.lock:
            bot.calls.append(Call(time.monotonic(), method, params, status, error))

    # ----- webhooks -------------------------------------------------------------------------
    async def deliver_webhooks(self) -> None:
        """Push queued updates to each bot's webhook, retrying failures with growing delays."""
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0))
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_STEP)
                self._wake.clear()
                for bot in list(self.world.bots.values()):
                    for update in self._due(bot):
                        task = asyncio.create_task(self._push(bot, update))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await self._client.aclose()

    def _due(self, bot: Bot) -> list[dict[str, Any]]:
        with self.world.lock:
            hook = bot.webhook
            if not hook.url:
                return []
            now = time.monotonic()
            room = hook.max_connections - sum(1 for t, _ in self._in_flight if t == bot.token)
            due = []
            for update in bot.updates:
                if room <= 0:
                    break
                key = (bot.token, update["update_id"])
                if key in self._in_flight or self._retry_at.get(key, (0.0, 0.0))[0] > now:
                    continue
                self._in_flight.add(key)
                due.append(update)
                room -= 1
            return due

    async def _push(self, bot: Bot, update: dict[str, Any]) -> None:
        assert self._client is not None
        key = (bot.token, update["update_id"])
        hook = bot.webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret} if hook.secret else {}
        error: str | None = None
        reply: Any = None
        try:
            copies = 1
            with self.world.lock:
                if hook.duplicates > 0:
                    hook.duplicates -= 1
                    copies = 2
            for _ in range(copies):
                response = await self._client.post(hook.url, json=update, headers=headers)
                if not 200 <= response.status_code < 300:
                    error = f"Wrong response from the webhook: {response.status_code}"
                    break
                with contextlib.suppress(ValueError):
                    reply = response.json()
        except httpx.HTTPError as exc:
            error = f"Connection error: {type(exc).__name__}"
        with self.world.lock:
            self._in_flight.discard(key)
            if error is None:
                bot.updates = [u for u in bot.updates if u["update_id"] != update["update_id"]]
                self._retry_at.pop(key, None)
            else:
                hook.last_error_date = int(time.time())
                hook.last_error_message = error
                _, delay = self._retry_at.get(key, (0.0, 0.0))
                limits = bot.limits
                delay = min(limits.webhook_retry_cap, delay * 2 or limits.webhook_retry_base)
                self._retry_at[key] = (time.monotonic() + delay, delay)
        if isinstance(reply, dict) and isinstance(reply.get("method"), str):
            # A webhook may answer with a method call; Telegram runs it and shows no result.
            name = reply["method"]
            params = {k: v for k, v in reply.items() if k != "method"}
            self._call(bot, name, name.lower(), params)
        self._wake.set()


def _messages(world: World, chat_id: int) -> list[dict[str, Any]]:
    return [
        {**m.data, "_markup": m.markup, "_edits": m.edits} for m in world.messages(int(chat_id))
    ]


CONTROL_OPS: dict[str, Any] = {
    "add_bot": lambda w, token, username="gaung_bot": w.add_bot(token, username).id,
    "add_users": lambda w, count, started=True: w.add_users(count, started=started),
    "set_limits": lambda w, **limits: w.set_limits(**limits),
    "inject_fault": lambda w, kind, **kw: w.inject_fault(kind, **kw),
    "clear_faults": lambda w: w.clear_faults(),
    "block": lambda w, user_id: w.block(user_id),
    "deactivate": lambda w, user_id: w.deactivate(user_id),
    "say": lambda w, user_id, text: w.say(user_id, text),
    "press": lambda w, user_id, message_id, data, forged=False: w.press(
        user_id, message_id, data, forged=forged
    ),
    "messages": _messages,
    "stats": lambda w: w.stats(),
    # (emulator clock, HTTP status) of every sendMessage: the benchmarks' pace figures.
    "send_log": lambda w: [[c.at, c.status] for c in w.calls("sendMessage")],
    # Every call the bot made (clock, method, status, chat, text's start): everything it sent.
    "call_log": lambda w: [
        [c.at, c.method, c.status, str(c.chat_id), str(c.params.get("text") or "")[:120]]
        for c in w.calls()
    ],
    "delivered_counts": lambda w: {str(k): v for k, v in w.delivered_counts().items()},
    "reset_calls": lambda w: [b.calls.clear() for b in w.bots.values()] and None,
}


def create_app(world: World) -> Starlette:
    emulator = Emulator(world)
    return emulator_app(
        emulator, Route("/bot{token}/{method}", emulator.bot_api, methods=["GET", "POST"])
    )


__all__ = ["MESSAGE_METHODS", "create_app"]
