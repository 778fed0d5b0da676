"""Running the emulator: in a thread of the caller (tests) or as its own process (benchmarks).

A benchmark runs it in another process so that the emulator and the code under test do not
share one interpreter lock and slow each other down.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from bot.emulators.process import ChildEmulator
from bot.emulators.telegram.server import create_app
from bot.emulators.telegram.world import Limits, World
from bot.emulators.thread import ThreadedServer, free_port

__all__ = ["EmulatorProcess", "TelegramEmulator", "free_port"]


class TelegramEmulator(ThreadedServer):
    """``with TelegramEmulator() as tg:`` serves ``tg.url``; drive users through ``tg.world``."""

    label = "Telegram emulator"

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
        self._serve(create_app(self.world), "tg-emulator")

    def _lock(self) -> AbstractContextManager[Any]:
        return self.world.lock


class EmulatorProcess(ChildEmulator):
    """The emulator as a child process (``python -m bot.emulators.telegram``), driven over HTTP."""

    def __init__(
        self, *, token: str = "123456:BENCH-TOKEN", local: bool = False, **limits: float
    ) -> None:
        """``local``: accept an http:// webhook on this machine (``--local``)."""
        self.token = token
        args = ["--token", token, *(["--local"] if local else [])]
        for name, value in limits.items():
            args += ["--limit", f"{name}={value}"]
        self._start("bot.emulators.telegram", args, "Telegram")
