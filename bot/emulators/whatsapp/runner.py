"""Running the emulator: in a thread of the caller (tests) or as its own process (benchmarks)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from bot.emulators.process import ChildEmulator
from bot.emulators.telegram.runner import free_port
from bot.emulators.whatsapp.limits import Limits
from bot.emulators.whatsapp.server import Emulator, create_app
from bot.emulators.whatsapp.world import World


class WhatsAppEmulator:
    """``with WhatsAppEmulator() as wa:`` serves ``wa.url``; drive users through ``wa.world``.

    ``wa.url`` is the Graph API origin (``GAUNG_WHATSAPP_API_URL``); pass a ``clock`` (epoch
    seconds, e.g. an ``OffsetClock``) to control windows and limits from the test.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] | None = None,
        token: str = "EAAG-TEST-TOKEN",
        phone_id: str = "106540352242922",
    ) -> None:
        self.world = World(limits, clock=clock, token=token, phone_id=phone_id)
        self.token = token
        self.phone_id = phone_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(self.world)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="on",
            backlog=4096,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="wa-emulator")

    @property
    def emulator(self) -> Emulator:
        emulator: Emulator = self.app.state.emulator
        return emulator

    def reset(
        self, limits: Limits | None = None, *, clock: Callable[[], float] | None = None
    ) -> World:
        """A fresh world on the running server: tests share one server, never its state."""
        loop = self.emulator.loop
        if loop is None:
            raise RuntimeError("start the emulator first")
        world = World(limits, clock=clock, token=self.token, phone_id=self.phone_id)
        asyncio.run_coroutine_threadsafe(self.emulator.swap(world), loop).result(timeout=10)
        self.world = world
        deadline = time.monotonic() + 10
        while self.emulator.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)  # the old world's last webhooks land before the test starts
        return world

    def start(self) -> WhatsAppEmulator:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started or self.emulator.loop is None:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the WhatsApp emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> WhatsAppEmulator:
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
            with self.world.lock:
                if predicate():
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(message or "condition not met in time")
            time.sleep(0.01)


class EmulatorProcess(ChildEmulator):
    """The emulator as a child process (``python -m bot.emulators.whatsapp``), driven over HTTP."""

    def __init__(
        self,
        *,
        token: str = "EAAG-BENCH-TOKEN",
        phone_id: str = "106540352242922",
        webhook: str | None = None,
        app_secret: str = "",
        **limits: Any,
    ) -> None:
        self.token = token
        self.phone_id = phone_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["--token", token, "--phone-id", phone_id]
        if webhook:
            args += ["--webhook", webhook, "--app-secret", app_secret]
        for name, value in limits.items():
            args += ["--limit", f"{name}={'none' if value is None else value}"]
        self._start("bot.emulators.whatsapp", self.port, args, "WhatsApp")
