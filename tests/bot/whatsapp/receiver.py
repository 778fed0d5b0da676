"""A webhook endpoint for tests: records each POST's exact bytes and headers, answers as told.

It verifies nothing itself: tests check the signature and parse the recorded bytes with
``bot.whatsapp.webhook``, the code the app uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.emulators.thread import ThreadedServer
from bot.whatsapp.webhook import verify_challenge


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]


class Receiver(ThreadedServer):
    """``with Receiver() as hook:`` listens on ``hook.url``; ``hook.fail_next(n)`` answers 500."""

    label = "webhook receiver"

    def __init__(self, verify_token: str = "verify-me") -> None:
        self.verify_token = verify_token
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._failures = 0
        app = Starlette(routes=[Route("/webhook/whatsapp", self._handle, methods=["GET", "POST"])])
        self._serve(app, "wa-hook")
        self.url += "/webhook/whatsapp"

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

    def wait_for(
        self, predicate: Callable[[], object], timeout: float = 10.0, message: str = ""
    ) -> None:
        try:
            super().wait_for(predicate, timeout, message)
        except TimeoutError:
            got = f"webhook condition not met; got {len(self.received)} posts"
            raise TimeoutError(message or got) from None

    def wait_count(self, count: int, timeout: float = 10.0) -> list[Received]:
        self.wait_for(lambda: len(self.received) >= count, timeout)
        with self.lock:
            return list(self.received)
