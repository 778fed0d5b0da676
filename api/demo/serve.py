"""The demo's own ``gaung serve --worker``: a child process that sees only the demo's settings.

It runs in the demo folder (so no ``.env`` of a deployment is read) with every ``GAUNG_``
variable of the caller's environment removed, then the demo's own added: its SQLite file, the
emulated Bot API, fresh secrets, a paid-broadcast rate and reminders due within seconds.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.emulators.telegram import TelegramEmulator
from bot.emulators.thread import free_port


class DemoFailed(Exception):
    """The story could not go on; the message is one line for the terminal."""


class Serve:
    """``gaung serve --worker`` in the demo folder, with only the demo's settings."""

    def __init__(
        self,
        folder: Path,
        database_url: str,
        tg: TelegramEmulator,
        *,
        rate: float,
        reminder_after: float,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAUNG_")}
        env |= {
            "GAUNG_DATABASE_URL": database_url,
            "GAUNG_TELEGRAM_TOKEN": tg.token,
            "GAUNG_TELEGRAM_API_URL": tg.url,
            "GAUNG_TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(32),
            "GAUNG_TELEGRAM_RATE": str(rate),
            "GAUNG_TELEGRAM_PAID_BROADCAST": "true",
            "GAUNG_PUBLIC_URL": self.url,
            "GAUNG_SECRET_KEY": secrets.token_urlsafe(32),
            "GAUNG_REMINDER_DELAY_HOURS": f"{reminder_after / 3600:.6f}",
            "GAUNG_QUIET_HOURS_START": "00:00",  # an empty window: no quiet hours in a demo
            "GAUNG_QUIET_HOURS_END": "00:00",
            "GAUNG_RECAP_ENABLED": "false",  # the daily recap keeps the wall clock, not the demo's
            # The demo's week lasts minutes: a weekly cap would hold back its own story.
            "GAUNG_REMINDERS_PER_WEEK": "1000",
            "PYTHONUNBUFFERED": "1",
        }
        args = ["serve", "--worker", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = spawn_gaung(args, env, folder, self.log)
        try:
            self._wait_ready(tg)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, tg: TelegramEmulator) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
                raise DemoFailed(f"`gaung serve` berhenti: {' '.join(tail) or self.log}")
            try:
                if tg.bot.webhook.url and httpx.get(f"{self.url}/healthz", timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise DemoFailed(f"`gaung serve` tidak siap dalam 60 s; lihat {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_gaung(self.process)


def spawn_gaung(
    args: list[str], env: dict[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """``gaung ARGS`` in its own process, as an operator starts it, its output added to ``log``
    (the demo and the tests that run the real commands start them so)."""
    gaung = shutil.which("gaung", path=str(Path(sys.executable).parent))
    command = [gaung] if gaung else [sys.executable, "-m", "api.cli"]
    with log.open("ab") as out:
        return subprocess.Popen([*command, *args], env=env, cwd=cwd, stdout=out, stderr=out)


def stop_gaung(process: subprocess.Popen[bytes]) -> None:
    """Stop as an operator does (SIGTERM: a graceful shutdown), killing it after 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_answering(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll ``url`` until it answers at all (any status): True, or False once ``process`` has
    ended or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.TransportError:
            time.sleep(0.05)
    return False
