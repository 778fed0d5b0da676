"""Chat-side fixtures: an emulated Telegram and ASN who exist both there and in the roster."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from api.demo.serve import spawn_gaung, stop_gaung, wait_answering
from bot.emulators.telegram import Limits, TelegramEmulator
from bot.emulators.telegram.world import Message
from bot.emulators.thread import free_port
from bot.emulators.whatsapp import WhatsAppEmulator
from db.engine import session_scope
from tests.bot.whatsapp.receiver import Receiver
from tests.factories import add_asn, register
from tests.feedserver import FeedServer, feed_server


@pytest.fixture
def tg() -> Iterator[TelegramEmulator]:
    # Local webhooks: `gaung serve` listens on http://127.0.0.1, which Telegram would refuse.
    tg = TelegramEmulator(Limits(rate=1000, burst=200, chat_burst=10), local_webhooks=True)
    with tg as emulator:
        yield emulator


@pytest.fixture(scope="session")
def wa_server() -> Iterator[WhatsAppEmulator]:
    """One WhatsApp emulator for the session: each test's ``wa`` gives it a fresh world."""
    with WhatsAppEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def wa_receiver() -> Iterator[Receiver]:
    """One webhook receiver for the session: each test's ``hook`` clears it."""
    with Receiver() as hook:
        yield hook


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A stand-in for OPD websites, YouTube and the Graph API (the feed poller's tests)."""
    with feed_server() as server:
        yield server


@dataclass(frozen=True)
class Member:
    asn_id: int
    user_id: int
    opd: str


def registered_members(
    engine: Engine, tg: TelegramEmulator, count: int, *, opds: tuple[str, ...] = ("DINKES",)
) -> list[Member]:
    """ASN in the roster, each linked to an emulated Telegram user who pressed Start."""
    members = []
    with session_scope(engine) as session:
        for n in range(count):
            opd = opds[n % len(opds)]
            user = tg.world.add_user(f"ASN {n}", started=True)
            asn = add_asn(session, opd=opd)
            register(session, asn, external_id=str(user.id))
            assert asn.id is not None
            members.append(Member(asn.id, user.id, opd))
    return members


SECRET = "uji-rahasia_123-cukup-panjang-untuk-32"
DASHBOARD_KEY = "uji-kunci-rahasia-dasbor-0123456789abcdef"


def gaung_env(
    database_url: str, tg: TelegramEmulator, port: int, **settings: str
) -> dict[str, str]:
    """The environment of a ``gaung`` command against the emulator, listening on ``port``;
    ``settings``: more ``GAUNG_*`` settings by their lower-case names."""
    return {
        **os.environ,
        "GAUNG_DATABASE_URL": database_url,
        "GAUNG_TELEGRAM_TOKEN": tg.token,
        "GAUNG_TELEGRAM_API_URL": tg.url,
        "GAUNG_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "GAUNG_SECRET_KEY": DASHBOARD_KEY,
        "GAUNG_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **{f"GAUNG_{name.upper()}": value for name, value in settings.items()},
    }


class BotProcess:
    """``gaung bot`` (long polling) or ``gaung serve --worker`` (webhook) against the emulator.

    The real commands run in their own processes, as an operator starts them; tests speak to
    them only through the emulated Telegram and read the database.
    """

    def __init__(
        self,
        transport: str,
        database_url: str,
        tg: TelegramEmulator,
        tmp: Path,
        **settings: str,
    ):
        self.transport = transport
        self.tg = tg
        self.port = free_port()
        env = gaung_env(database_url, tg, self.port, **settings)
        if transport == "polling":
            args = ["bot"]
        else:
            args = ["serve", "--worker", "--port", str(self.port)]
        self.log_path = tmp / f"{transport}.log"
        self.process = spawn_gaung(args, env, tmp, self.log_path)
        ready = (
            (lambda: tg.bot.polls > 0)
            if transport == "polling"
            else (lambda: bool(tg.bot.webhook.url))
        )
        try:
            tg.wait_for(ready, timeout=30, message="bot did not start")
            if transport == "webhook":
                self._wait_http()
        except BaseException:
            self.stop()
            raise

    def _wait_http(self) -> None:
        healthz = f"http://127.0.0.1:{self.port}/healthz"
        assert wait_answering(healthz, self.process, 30), "gaung serve did not listen"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        stop_gaung(self.process)


@pytest.fixture(params=["polling", "webhook"])
def running_bot(
    request: pytest.FixtureRequest, database_url: str, tg: TelegramEmulator, tmp_path: Path
) -> Iterator[BotProcess]:
    # A test may ask for settings with @pytest.mark.bot_settings(name=value, ...).
    marker = request.node.get_closest_marker("bot_settings")
    bot = BotProcess(request.param, database_url, tg, tmp_path, **(marker.kwargs if marker else {}))
    yield bot
    bot.stop()
    assert "Traceback" not in bot.log(), bot.log()


@pytest.fixture
def webhook_bot(database_url: str, tg: TelegramEmulator, tmp_path: Path) -> Iterator[BotProcess]:
    bot = BotProcess("webhook", database_url, tg, tmp_path)
    yield bot
    bot.stop()
    assert "Traceback" not in bot.log(), bot.log()


class Chat:
    """One simulated person in Telegram, acting and waiting for Gaung's answer."""

    def __init__(self, tg: TelegramEmulator, name: str, phone: str | None = None) -> None:
        self.tg = tg
        self.user = tg.world.add_user(name, phone=phone)
        self.id = self.user.id

    def messages(self) -> list[Message]:
        return self.tg.world.messages(self.id)

    def last(self) -> Message:
        found = self.messages()
        assert found, "no message from the bot"
        return found[-1]

    def _expect(self, act: Callable[[], object], count: int = 1) -> Message:
        before = len(self.messages())
        act()
        self.tg.wait_for(
            lambda: len(self.messages()) >= before + count,
            timeout=15,
            message=f"{self.user.first_name} got no answer",
        )
        return self.messages()[before]

    def say(self, text: str) -> Message:
        return self._expect(lambda: self.tg.world.say(self.id, text))

    def share_contact(self, **kwargs: Any) -> Message:
        return self._expect(lambda: self.tg.world.share_contact(self.id, **kwargs))

    def wait_message(self, count: int, *, timeout: float = 15) -> Message:
        self.tg.wait_for(lambda: len(self.messages()) >= count, timeout=timeout)
        return self.messages()[count - 1]

    def press(self, message: Message, label: str) -> dict[str, Any] | None:
        """Press a button by its label; returns the toast Gaung answered with."""
        query_id = self.tg.world.press_label(self.id, message.message_id, label)
        return self.answer_of(query_id)

    def press_data(self, message: Message, data: str, *, forged: bool = False) -> Any:
        query_id = self.tg.world.press(self.id, message.message_id, data, forged=forged)
        return self.answer_of(query_id)

    def answer_of(self, query_id: str) -> dict[str, Any] | None:
        self.tg.wait_for(
            lambda: self.tg.bot.queries[query_id].answered, timeout=15, message="no answer"
        )
        return self.tg.bot.queries[query_id].answer
