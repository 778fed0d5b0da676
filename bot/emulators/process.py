"""An emulator in its own process (``python -m bot.emulators.<network>``), driven over HTTP by
its control API; shared by the Telegram and WhatsApp emulators."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from bot.emulators.thread import free_port


class ChildEmulator:
    def _start(self, module: str, args: list[str], name: str) -> None:
        """Start ``module`` on a free port (``self.port``, ``self.url``) and wait (20 s at most)
        until its control API answers."""
        self.port = port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", module, "--port", str(port), *args]
        self._process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.op("stats")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError(f"the {name} emulator process did not start") from None
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
