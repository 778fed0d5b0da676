"""An ASGI app served by uvicorn in a daemon thread of the caller, on a free local port.

Tests run the emulators (and their own small stand-ins, such as a webhook receiver) this way,
next to the code under test; the Telegram and WhatsApp emulators share the start, stop and
polling code here, as their child-process forms share ``bot.emulators.process``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThreadedServer:
    """``with server:`` serves the app given to ``_serve`` until the block ends."""

    label = "server"  # named in the error when it does not start

    def _serve(self, app: Any, thread_name: str) -> None:
        """Pick the port (``self.port``, ``self.url``) and prepare, not start, the server."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="on",
            backlog=4096,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name=thread_name)

    def _ready(self) -> bool:
        """What besides a listening socket the server needs before ``start`` returns."""
        return True

    def _lock(self) -> AbstractContextManager[Any]:
        """Held while ``wait_for`` asks its predicate (an emulator's world lock)."""
        return contextlib.nullcontext()

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started or not self._ready():
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.label} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, message: str = ""
    ) -> None:
        """Poll until ``predicate()`` is true; tests use it instead of sleeping."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock():
                if predicate():
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(message or "condition not met in time")
            time.sleep(0.01)
