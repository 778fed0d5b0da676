"""Telegram Bot API as a broadcast channel.

The hot path speaks the Bot API's JSON directly: at 1,000 messages/s the per-call object
building of a full bot framework costs more than the send. python-telegram-bot handles the
conversations (``bot/telegram``), where its features matter.

Posts go through the lean client of ``bot.channels.wire`` (httpx cost ~1.2 ms of CPU per send,
the lean client ~0.1 ms); other calls (``getMe``), and posts when a proxy is configured, go
through httpx. Its connections are split over small clients used in turn: httpcore scans every
connection of its pool on each request, so with one pool of 256 the worker spent its CPU
choosing a connection (``bench/broadcast.py``: 8,000 paid messages took ~50 s; in pools of 4,
~9.5 s).

httpx (with httpcore, anyio, h11: a third of a second of CPU) is imported and its clients built
on the first ``call``, not at start-up: a worker's posts never need it, and a worker that has
to start quickly (a post approved while none was running) should not pay for it first.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bot.channels.base import (
    Misconfigured,
    OutgoingPost,
    RateLimited,
    Rejected,
    SendError,
    Transient,
    Unreachable,
)
from bot.channels.links import OpenLinks
from bot.channels.wire import JsonPoster, direct, tls_context
from bot.conversation.choices import tap_data
from bot.texts import t

if TYPE_CHECKING:
    import httpx

CONNECTIONS_PER_CLIENT = 4
# A claimed batch warms one connection per this many sends (``TelegramChannel.prepare``): the
# paid window of 504 sends warms the whole pool of 64; at 30/s a window of 34 warms 5.
SENDS_PER_CONNECTION = 8


def post_keyboard(
    delivery_id: int,
    url: str,
    confirmed: frozenset[str] | set[str],
    *,
    open_url: str | None = None,
) -> dict[str, Any]:
    """``open_url``: the delivery's tracked link (``bot.channels.links``), else the post's URL."""
    like = t("button.liked") if "like" in confirmed else t("button.like")
    share = t("button.shared") if "share" in confirmed else t("button.share")
    return {
        "inline_keyboard": [
            [
                {"text": like, "callback_data": tap_data(delivery_id, "like")},
                {"text": share, "callback_data": tap_data(delivery_id, "share")},
            ],
            [{"text": t("button.open"), "url": open_url or url}],
        ]
    }


def post_text(message: OutgoingPost) -> str:
    header_key = "post.reminder_header" if message.reminder else "post.header"
    caption = f"{message.caption}\n\n" if message.caption else ""
    return t(
        "post.body", header=t(header_key, opd=message.opd_nama), caption=caption, url=message.url
    )


class TelegramChannel:
    name = "telegram"
    strict_limit = True  # ``bot.channels.base.StrictLimit``

    def __init__(
        self,
        token: str,
        api_url: str = "https://api.telegram.org",
        *,
        paid_broadcast: bool = False,
        connections: int = 64,
        timeout: float = 15.0,
        open_links: OpenLinks | None = None,
    ) -> None:
        self._paid = paid_broadcast
        self.open_links = open_links
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._tls = tls_context() if self._api_url.startswith("https:") else None
        lean = direct(self._api_url)
        # Posts go through the lean client (``bot.channels.wire``) unless a proxy is set; httpx
        # then only answers ``getMe`` and the like: one small client, not the 64 of a paid
        # broadcast through httpx (building them cost 0.36 s of CPU at every worker start).
        self._shards = 1 if lean else max(1, -(-connections // CONNECTIONS_PER_CLIENT))
        self._per_client = CONNECTIONS_PER_CLIENT if lean else -(-connections // self._shards)
        self._clients: list[httpx.AsyncClient] = []
        self._next_client: Iterator[httpx.AsyncClient] | None = None
        self._wire = (
            JsonPoster(
                f"{self._api_url}/bot{token}/",
                connections=connections,
                timeout=timeout,
                tls=self._tls,
            )
            if lean
            else None
        )

    def _client(self) -> httpx.AsyncClient:
        """The next httpx client in turn, the clients built (and httpx imported) on first use."""
        if self._next_client is None:
            import httpx

            tls = self._tls or tls_context()
            self._clients = [
                httpx.AsyncClient(
                    base_url=f"{self._api_url}/bot{self._token}/",
                    limits=httpx.Limits(
                        max_connections=self._per_client,
                        max_keepalive_connections=self._per_client,
                    ),
                    timeout=httpx.Timeout(self._timeout, connect=5.0),
                    verify=tls,
                )
                for _ in range(self._shards)
            ]
            self._next_client = itertools.cycle(self._clients)
        return next(self._next_client)

    def prepare(self, messages: Sequence[OutgoingPost]) -> None:
        """A claimed batch is about to wait for its slots: open the connections its sends will
        use meanwhile (``JsonPoster.warm``), one per ``SENDS_PER_CONNECTION`` of them."""
        if self._wire is not None:
            self._wire.warm(-(-len(messages) // SENDS_PER_CONNECTION))

    async def send_post(self, message: OutgoingPost) -> str:
        payload: dict[str, Any] = {
            "chat_id": message.chat_id,
            "text": post_text(message),
            "reply_markup": post_keyboard(
                message.delivery_id,
                message.url,
                message.confirmed,
                open_url=self.open_links.url(message.delivery_id) if self.open_links else None,
            ),
            "link_preview_options": {"url": message.url, "prefer_large_media": True},
        }
        if self._paid:
            payload["allow_paid_broadcast"] = True
        if self._wire is None:
            result = await self.call("sendMessage", payload)
        else:
            result = await self._post_lean("sendMessage", payload)
        return str(result["message_id"])

    async def _post_lean(self, method: str, payload: dict[str, Any]) -> Any:
        """``call`` through the lean client: same answers, same failures."""
        assert self._wire is not None
        try:
            status, raw = await self._wire.post(method, json.dumps(payload).encode())
        except TimeoutError:
            raise Transient("timeout: TimeoutError") from None
        except OSError as exc:
            raise Transient(f"connection: {type(exc).__name__}") from None
        return answer(status, raw)

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        import httpx

        try:
            response = await self._client().post(method, json=payload)
        except httpx.TimeoutException as exc:
            raise Transient(f"timeout: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise Transient(f"connection: {type(exc).__name__}") from None
        return answer(response.status_code, response.content)

    async def check(self, *, patience: float = 30.0) -> None:
        """Make sure the token and the API address work, before sending anything.

        Raises ``Misconfigured`` with one line naming the setting to fix: a refused token, an
        address that answers "not found", or one that does not answer within ``patience``.
        """
        deadline = time.monotonic() + patience
        while True:
            try:
                await self.call("getMe", {})
                return
            except Misconfigured as exc:
                if "401" in exc.reason or "unauthorized" in exc.reason.lower():
                    raise Misconfigured(
                        f"GAUNG_TELEGRAM_TOKEN ditolak oleh {self._api_url} ({exc.reason})"
                    ) from None
                raise Misconfigured(
                    f"GAUNG_TELEGRAM_TOKEN atau GAUNG_TELEGRAM_API_URL salah: {self._api_url} "
                    f"menjawab {exc.reason}"
                ) from None
            except Transient as exc:
                if time.monotonic() >= deadline:
                    raise Misconfigured(
                        f"GAUNG_TELEGRAM_API_URL tidak bisa dihubungi: {self._api_url} "
                        f"({exc.reason})"
                    ) from None
                await asyncio.sleep(2.0)
            except RateLimited as exc:
                await asyncio.sleep(min(exc.retry_after, max(0.0, deadline - time.monotonic())))
            except SendError as exc:  # something answered, but not a Bot API
                raise Misconfigured(
                    f"GAUNG_TELEGRAM_API_URL salah: {self._api_url} tidak menjawab sebagai "
                    f"Bot API ({exc.reason})"
                ) from None

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        if self._wire is not None:
            await self._wire.aclose()


def answer(status: int, raw: bytes) -> Any:
    """A Bot API answer's ``result``, or the failure it means (``classify``)."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if status == 200 and body.get("ok"):
        return body["result"]
    raise classify(status, body)


def classify(status: int, body: dict[str, Any]) -> Exception:
    """Map a Bot API failure to what the broadcaster should do; match text loosely."""
    code = int(body.get("error_code") or status)
    description = str(body.get("description") or f"HTTP {status}")
    lowered = description.lower()
    if code == 429:
        retry_after = float((body.get("parameters") or {}).get("retry_after") or 1)
        return RateLimited(description, retry_after)
    if code == 403:
        return Unreachable(description)
    if code == 400 and ("chat not found" in lowered or "user not found" in lowered):
        return Unreachable(description)
    if code in (401, 404):
        return Misconfigured(
            f"{code} {description}" if str(code) not in description else description
        )
    if code >= 500 or code in (408, 409):
        return Transient(description)
    return Rejected(description)
