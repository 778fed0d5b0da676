"""A lean HTTP/1.1 client for the broadcast hot path: JSON POSTs to one origin, kept alive.

Why not httpx here: at 1,000 messages/s the worker spent ~1.2 ms of its ~1.6–1.9 ms of CPU per
send inside httpx, httpcore, anyio and h11 (request and URL objects, cookies, auth and redirect
hooks, a cancel scope per read, a pure-Python HTTP parser), far more than the send itself. This
client writes one request head and body per send on a pooled connection and parses the answer
with ``httptools`` (C, as uvicorn does). It does only what a channel's send needs: POST of
bytes to a path of one origin over http or https, a total timeout, a bounded pool.

Against aiohttp 3.14 (its C parser, one pooled ``ClientSession``: ``TCPConnector(limit=256,
keepalive_timeout=4)``, URLs built once, no cookies) in the same paid run (8,000 sends at
1,000/s, PostgreSQL, the worker in one process, runs alternated in the same minutes, load
11-14): the whole process used 0.57 and 0.56 ms of CPU per send with this client, 0.78 and
0.82 ms with aiohttp; its event loop 2.0-2.2 s against 3.9-4.1 s per 8,000. aiohttp costs
about 40 % more CPU per send (the loop: 85 %), beyond the 10 % that would have made the
library worth its generality, so this client stays.

What it leaves to httpx: proxies (``direct`` says whether an origin is reached without one;
the channels use httpx otherwise), redirects, cookies, anything but one JSON POST. A failure
reaches the caller as ``TimeoutError`` or ``WireError`` (an ``OSError``), which the channels
classify as transient, as they do httpx's.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import urllib.request
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import cast
from urllib.parse import urlsplit

import httptools

# Seconds an idle connection is kept: below the servers' own keep-alive timeouts (uvicorn: 5 s,
# nginx: 75 s), as httpx's 5 s. Measured without it: a paid broadcast on a loaded machine
# reused connections uvicorn had just closed and paused three times for a "failing" channel.
KEEPALIVE = 4.0


class WireError(OSError):
    """The connection failed, closed, or the answer could not be read."""


class Withheld(Exception):
    """The request was not written: ``may_write`` said no once a connection was free."""


# Set by a paced sender for the send it is making (``bot.broadcast``): whether the request may
# still go on the wire, asked once a connection is free, right before it is written. A send
# that waited for a connection (all in use: a slow server, a flood wait's 429s coming back) is
# past its slot by then, or a flood wait began meanwhile: 64 sends waiting for a connection
# went out one per 429 answered, each lengthening the wait (123 × 429 in 76 ms: a 2-minute
# flood wait, measured against the emulator's "growing" penalty).
# It is given the poster's ``backlog``: a server that stopped answering (a stalled process, a
# congested link) holds the requests written meanwhile and then handles them all at once, more
# in one second than were sent in any second (``JsonPoster.backlog``).
may_write: ContextVar[Callable[[float], bool] | None] = ContextVar("may_write", default=None)


def tls_context() -> ssl.SSLContext:
    """The TLS settings httpx uses by default (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else
    certifi's bundle), without importing httpx: one context for all of a channel's clients,
    since each context loads the CA bundle."""
    import os

    import certifi

    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def direct(url: str) -> bool:
    """Whether ``url`` is reached without a proxy (no proxy setting applies to it)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(parts.hostname or ""))


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.usable = True
        self.idle_since = 0.0  # loop time it went back to the pool

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(WireError(f"unreadable answer: {exc}"))

    def eof_received(self) -> bool:
        self.usable = False
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(WireError(f"connection lost: {exc or 'closed by the server'}"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        answer, self.answer = self.answer, None
        if not self.parser.should_keep_alive():
            self.close()
        if answer is not None and not answer.done():
            answer.set_result((self.parser.get_status_code(), b"".join(self.body)))
        self.body = []

    # ours
    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None and self.answer is None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.answer

    def _fail(self, error: Exception) -> None:
        self.close()
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()


class JsonPoster:
    """POSTs to one origin over at most ``connections`` kept-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        connections: int = 64,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        keepalive: float = KEEPALIVE,
        headers: dict[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = (tls or ssl.create_default_context()) if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = (
            f"Host: {netloc}\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
            f"{extra}Content-Length: "
        ).encode("latin-1")
        self._limit = max(1, connections)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._warming: set[asyncio.Task[None]] = set()
        # Connections with a request on the wire, oldest first, with when it was written.
        self._busy: dict[_Connection, float] = {}
        self._epoch = -math.inf  # the second the quickest answer counts in (``_answered``)
        self._epoch_min = self._last_min = self._floor = math.inf

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send ``body`` to ``path`` (under the base URL's path): the status and the body."""
        request = b"POST %s/%s HTTP/1.1\r\n%s%d\r\n\r\n%s" % (
            self.prefix.encode("ascii"),
            path.lstrip("/").encode("ascii"),
            self._head,
            len(body),
            body,
        )
        async with asyncio.timeout(self._timeout):
            connection = await self._acquire()
            gate = may_write.get()
            if gate is not None and not gate(self.backlog()):
                self._release(connection)
                raise Withheld
            loop = asyncio.get_running_loop()
            self._busy[connection] = written = loop.time()
            try:
                answer = await connection.send(request)
            except BaseException:
                del self._busy[connection]
                connection.close()
                self._release(connection)
                raise
        del self._busy[connection]
        self._answered(loop.time(), loop.time() - written)
        self._release(connection)
        return answer

    def backlog(self) -> float:
        """Seconds the oldest unanswered request has waited beyond the quickest answer of the
        last second or two: how long the server has (apparently) stopped answering.

        Whatever it holds meanwhile it will handle all at once when it resumes: a strict
        limiter there (at most 1,000 in any second) counts those and the next second's sends
        together. Measured against the emulator on a loaded machine: its loop stalled for up to
        400 ms (p99: 200-300 ms), each stall of more than 40 ms put more than 1,000 into one
        second at 960/s although the worker had sent at most 979 in any second, and the 429
        that followed met 19 to 123 more requests already written (each lengthening the flood
        wait by a second under the emulator's "growing" penalty).
        """
        if not self._busy or self._floor == math.inf:
            return 0.0
        oldest = next(iter(self._busy.values()))
        return max(0.0, asyncio.get_running_loop().time() - oldest - self._floor)

    def _answered(self, now: float, rtt: float) -> None:
        """The quickest answer of this second and the last (a minimum that forgets)."""
        if now - self._epoch >= 1.0:
            self._epoch, self._epoch_min, self._last_min = now, math.inf, self._epoch_min
        self._epoch_min = min(self._epoch_min, rtt)
        self._floor = min(self._epoch_min, self._last_min)

    def warm(self, count: int) -> None:
        """Open connections in the background until ``count`` are open or opening (at most the
        pool's size), so that the first sends of a broadcast find them ready.

        Sends that waited for their connection to open left together once it had: at 1,000/s
        a worker's first 10 ms carried 13-26 sends instead of 10, a burst a strict limiter
        (at most 1,000 in any second) counts against the whole second after it. Over TLS to
        the real Bot API a connection takes a round trip or three, longer still.
        """
        loop = asyncio.get_running_loop()
        for _ in range(min(count, self._limit) - self._open):
            task = loop.create_task(self._warm_one())
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)

    async def _warm_one(self) -> None:
        try:
            connection = await self._connect()
        except Exception:  # as a send would find it: the send then reports it
            return
        self._release(connection)

    async def _acquire(self) -> _Connection:
        while True:
            if self._closed:
                raise WireError("client closed")
            self._expire()
            while self._idle:
                connection = self._idle.pop()  # the most recent: least likely to have expired
                if connection.usable:
                    return connection
                self._open -= 1
            if self._open < self._limit:
                return await self._connect()
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(turn)
            await turn

    async def _connect(self) -> _Connection:
        self._open += 1
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await asyncio.get_running_loop().create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=self._host if self._tls else None,
                )
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.usable and not self._closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            self._open -= 1
        self._wake()

    def _expire(self) -> None:
        """Close the connections idle for ``keepalive`` seconds (the oldest are first): the
        server may be closing them right now, and a request written into a connection the
        server is closing fails as a dropped connection."""
        if not self._idle:
            return
        oldest = asyncio.get_running_loop().time() - self._keepalive
        while self._idle and self._idle[0].idle_since < oldest:
            self._idle.popleft().close()
            self._open -= 1

    def _wake(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._warming):
            task.cancel()
        while self._idle:
            self._idle.pop().close()
        self._open = 0
        for turn in self._waiters:
            if not turn.done():
                turn.set_result(None)
