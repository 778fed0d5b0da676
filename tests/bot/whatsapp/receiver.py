"""A webhook endpoint for tests: records each POST's exact bytes and headers, answers as told.

It verifies nothing itself: tests check the signature and parse the recorded bytes with
``bot.whatsapp.webhook``, the code the app uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.emulators.telegram.runner import free_port
from bot.whatsapp.webhook import verify_challenge


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]


class Receiver:
    """``with Receiver() as hook:`` listens on ``hook.url``; ``hook.fail_next(n)`` answers 500."""

    def __init__(self, verify_token: str = "verify-me") -> None:
        self.verify_token = verify_token
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._failures = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhook/whatsapp"
        app = Starlette(routes=[Route("/webhook/whatsapp", self._handle, methods=["GET", "POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="wa-hook")

    async def _handle(self, request: Request) -> Response:
        if request.method == "GET":
            challenge = verify_challenge(request.query_params, self.verify_token)
            if challenge is None:
                return PlainTextResponse("forbidden", status_code=403)
            return PlainTextResponse(challenge)
        body = await request.body()
        with self.lock:
            self.received.append(Received(body, dict(request.headers)))
            if self._failures > 0:
                self._failures -= 1
                return PlainTextResponse("busy", status_code=500)
        return PlainTextResponse("ok")

    def clear(self) -> None:
        """Forget what arrived (tests share one receiver)."""
        with self.lock:
            self.received.clear()
            self._failures = 0

    def fail_next(self, count: int) -> None:
        with self.lock:
            self._failures = count

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"webhook condition not met; got {len(self.received)} posts")
            time.sleep(0.01)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[Received]:
        self.wait_for(lambda: len(self.received) >= count, timeout)
        with self.lock:
            return list(self.received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
