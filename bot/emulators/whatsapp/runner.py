"""Running the emulator: in a thread of the caller (tests) or as its own process (benchmarks)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from bot.emulators.process import ChildEmulator
from bot.emulators.thread import ThreadedServer
from bot.emulators.whatsapp.limits import Limits
from bot.emulators.whatsapp.server import Emulator, create_app
from bot.emulators.whatsapp.world import World


class WhatsAppEmulator(ThreadedServer):
    """``with WhatsAppEmulator() as wa:`` serves ``wa.url``; drive users through ``wa.world``.

    ``wa.url`` is the Graph API origin (``GAUNG_WHATSAPP_API_URL``); pass a ``clock`` (epoch
    seconds, e.g. an ``OffsetClock``) to control windows and limits from the test.
    """

    label = "WhatsApp emulator"
    # The emulated number's access token and id: what a test puts in Gaung's settings.
    token = "EAAG-TEST-TOKEN"
    phone_id = "106540352242922"

    def __init__(
        self, limits: Limits | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.world = World(limits, clock=clock, token=self.token, phone_id=self.phone_id)
        self.app = create_app(self.world)
        self._serve(self.app, "wa-emulator")

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

    def _ready(self) -> bool:
        return self.emulator.loop is not None

    def _lock(self) -> AbstractContextManager[Any]:
        return self.world.lock


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
        args = ["--token", token, "--phone-id", phone_id]
        if webhook:
            args += ["--webhook", webhook, "--app-secret", app_secret]
        for name, value in limits.items():
            args += ["--limit", f"{name}={'none' if value is None else value}"]
        self._start("bot.emulators.whatsapp", args, "WhatsApp")
