"""Running the emulator: in a thread of the caller (tests) or as its own process (benchmarks).

A benchmark runs it in another process so that the emulator and the code under test do not
share one interpreter lock and slow each other down.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from bot.emulators.process import ChildEmulator
from bot.emulators.telegram.server import create_app
from bot.emulators.telegram.world import Limits, World


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TelegramEmulator:
    """``with TelegramEmulator() as tg:`` serves ``tg.url``; drive users through ``tg.world``."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        token: str = "123456:TEST-TOKEN",
        local_webhooks: bool = False,
    ) -> None:
        """``local_webhooks``: accept an http:// webhook on this machine (``World``)."""
        self.world = World(limits)
        self.world.local_webhooks = local_webhooks
        self.token = token
        self.bot = self.world.add_bot(token)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(self.world),
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="on",
            backlog=4096,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="tg-emulator")

    def start(self) -> TelegramEmulator:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Telegram emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> TelegramEmulator:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_for(self, predicate: Any, timeout: float = 10.0, message: str = "") -> None:
        """Poll until ``predicate()`` is true; tests use it instead of sleeping."""
        deadline = time.monotonic() + timeout
        while True:
            with self.world.lock:
                if predicate():
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(message or "condition not met in time")
            time.sleep(0.01)


class EmulatorProcess(ChildEmulator):
    """The emulator as a child process (``python -m bot.emulators.telegram``), driven over HTTP."""

    def __init__(
        self, *, token: str = "123456:BENCH-TOKEN", local: bool = False, **limits: float
    ) -> None:
        """``local``: accept an http:// webhook on this machine (``--local``)."""
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["--token", token, *(["--local"] if local else [])]
        for name, value in limits.items():
            args += ["--limit", f"{name}={value}"]
        self._start("bot.emulators.telegram", self.port, args, "Telegram")
