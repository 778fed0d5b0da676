"""Running the emulator: in a thread of the caller (tests) or as its own process (benchmarks).

A benchmark runs it in another process so that the emulator and the code under test do not
share one interpreter lock and slow each other down.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

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


class EmulatorProcess:
    """The emulator as a child process (``python -m bot.emulators.telegram``), driven over HTTP."""

    def __init__(
        self, *, token: str = "123456:BENCH-TOKEN", local: bool = False, **limits: float
    ) -> None:
        """``local``: accept an http:// webhook on this machine (``--local``)."""
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "bot.emulators.telegram", "--port", str(self.port)]
        args += ["--token", token, *(["--local"] if local else [])]
        for name, value in limits.items():
            args += ["--limit", f"{name}={value}"]
        self._process = subprocess.Popen(args, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._client = httpx.Client(base_url=self.url, timeout=60)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.op("stats")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("the Telegram emulator process did not start") from None
                time.sleep(0.05)

    def op(self, name: str, **args: Any) -> Any:
        response = self._client.post(f"/_emulator/{name}", json=args)
        response.raise_for_status()
        return response.json()["result"]

    @property
    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        self._client.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
