"""HTTP hardening that sits in front of every route, as plain ASGI middleware.

- **Body size**: a request body above ``GAUNG_MAX_BODY_BYTES`` is refused with 413 before
  anything parses it (by its ``Content-Length`` at once, else while it streams in), for the
  webhooks and the API alike.
- **Nesting**: JSON nested deeper than Python's parser can follow raised ``RecursionError``
  deep inside FastAPI (a 500); such a body is a 400 here. The check costs two ``bytes.count``
  calls for ordinary bodies and only parses the rare one with many brackets.
- **Origin**: a POST (or other unsafe method) whose ``Origin`` (or, lacking one, ``Referer``)
  names another site is refused with 403, so no page elsewhere can post the dashboard's
  forms with its cookie. The dashboard's POSTs must name their origin; the API and webhooks,
  called by scripts and by Telegram with no cookies, may omit it.
- **HSTS** on every answer when Gaung is served over https.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from db.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HSTS = "max-age=63072000; includeSubDomains"
# Below this many brackets a body cannot be nested deep enough to trouble the parser.
BRACKETS_WITHOUT_CHECK = 500
# Paths whose POSTs ride on the dashboard's cookie: they must say where they come from.
COOKIE_PATHS = ("/dashboard",)


class BodyTooLarge(Exception):
    pass


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def too_deep(body: bytes) -> bool:
    """Whether Python's JSON parser gives up on ``body`` for its nesting."""
    if body.count(b"[") + body.count(b"{") < BRACKETS_WITHOUT_CHECK:
        return False
    try:
        json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False  # not JSON at all: the route says so in its own words
    return False


class Guards:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limit = settings.max_body_bytes
        self.public_origin = origin_of(settings.public_url) if settings.public_url else None
        self.https = bool(settings.public_url and settings.public_url.startswith("https://"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra: list[tuple[bytes, bytes]] = []
        if self.https or scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))
            send = _with_headers(send, extra)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        if method not in SAFE_METHODS:
            refusal = self._foreign(scope, headers)
            if refusal:
                await _answer(send, 403, refusal, [])
                return
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.limit:
                await _answer(send, 413, self._too_large(), [(b"connection", b"close")])
                return
            try:
                body = await self._read(receive)
            except BodyTooLarge:
                await _answer(send, 413, self._too_large(), [(b"connection", b"close")])
                return
            if "json" in headers.get("content-type", "json") and too_deep(body):
                await _answer(send, 400, "badan permintaan JSON terlalu dalam bersarang", [])
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _too_large(self) -> str:
        return f"badan permintaan terlalu besar (paling banyak {self.limit} byte)"

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _foreign(self, scope: Scope, headers: dict[str, str]) -> str | None:
        """Why a state-changing request is refused for where it comes from, or None."""
        claimed = headers.get("origin")
        if claimed is None and "referer" in headers:
            claimed = origin_of(headers["referer"]) or "null"
        path: str = scope.get("path", "")
        if claimed is None:
            if path.startswith(COOKIE_PATHS):
                return "permintaan tanpa Origin ditolak"
            return None
        allowed = {f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()}
        if self.public_origin:
            allowed.add(self.public_origin)
        if claimed.lower().rstrip("/") not in allowed:
            return "Origin tidak diizinkan"
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as a server does

    return replay


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sender
