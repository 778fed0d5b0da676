"""What the Telegram and WhatsApp emulators' HTTP faces share: the control API, the dropped
connection fault, and the app that runs webhook delivery beside the network's own routes.

The control API (``POST /_emulator/<op>`` with JSON arguments, answered ``{"result": …}``) lets
a benchmark, the demo or a test drive an emulator running in another process the way an
in-process test drives its ``World``; each network lists its operations in ``ops``.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send


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


class ControlledEmulator(ABC):
    """An emulator's HTTP face: its ``world``, the control API and a webhook delivery loop."""

    def __init__(self, world: Any, ops: dict[str, Any]) -> None:
        """``ops``: op name -> ``fn(world, **args)`` returning something JSON can carry."""
        self.world = world
        self.ops = ops
        self._wake = asyncio.Event()

    async def run_op(self, op: str, args: dict[str, Any]) -> Any:
        """One control operation; a network overrides it for the few that must await."""
        return self.ops[op](self.world, **args)

    async def control(self, request: Request) -> Response:
        op = request.path_params["op"]
        if op not in self.ops:
            return JSONResponse({"detail": f"unknown op {op}"}, status_code=404)
        try:
            args = await request.json() if await request.body() else {}
            result = await self.run_op(op, args)
        except (TypeError, ValueError, KeyError) as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        self._wake.set()  # what the op changed may be a webhook to send now
        return JSONResponse({"result": result})

    @abstractmethod
    async def deliver_webhooks(self) -> None:
        """Each network's loop sending its webhooks (Telegram updates, WhatsApp events)."""


def emulator_app(emulator: ControlledEmulator, *api: Route) -> Starlette:
    """The network's ``api`` routes and the control API, delivering webhooks while it runs."""

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
        routes=[*api, Route("/_emulator/{op}", emulator.control, methods=["POST"])],
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    return app
