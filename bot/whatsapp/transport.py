"""Reaching another Graph API origin (the emulator) with pywa, whose address is fixed.

pywa sets ``https://graph.facebook.com/v<ver>`` as its httpx client's base URL. Rather than
patch the library's private attributes, its client gets this transport, which sends each
request to the configured origin (scheme, host, port and an optional path prefix) and leaves
the path pywa built, the headers and the body as they are.

Connections are split over small pools used in turn (``ShardedTransport``): httpcore scans every
connection of its pool on each request, so one pool of 64 spent most of the sender's CPU choosing
a connection (the same finding as ``bot/channels/telegram.py``).
"""

from __future__ import annotations

import itertools

import httpx

GRAPH_ORIGIN = "https://graph.facebook.com"
CONNECTIONS_PER_SHARD = 4


class OriginTransport(httpx.AsyncBaseTransport):
    """Rewrites every request's origin to ``origin``, then hands it to ``inner``."""

    def __init__(self, origin: str, inner: httpx.AsyncBaseTransport) -> None:
        url = httpx.URL(origin)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self._url = url
        self._prefix = url.path.rstrip("/")
        self._inner = inner
        # A broadcast sends thousands of requests to the one ``/messages`` URL: rewriting it
        # (parsing and rebuilding the URL) each time cost ~10 % of the sender's CPU.
        self._rewritten: dict[str, httpx.URL] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = str(request.url)
        url = self._rewritten.get(key)
        if url is None:
            target = self._url
            url = request.url.copy_with(
                scheme=target.scheme,
                host=target.host,
                port=target.port,
                path=self._prefix + request.url.path,
            )
            if len(self._rewritten) < 1024:  # media and other one-off URLs: not kept forever
                self._rewritten[key] = url
        request.url = url
        request.headers["Host"] = url.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools, one request to each in turn."""

    def __init__(self, connections: int) -> None:
        shards = max(1, -(-connections // CONNECTIONS_PER_SHARD))
        per_shard = -(-connections // shards)
        tls = httpx.create_ssl_context()  # one for all: each loads the CA bundle
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._shards = [httpx.AsyncHTTPTransport(limits=limits, verify=tls) for _ in range(shards)]
        self._next = itertools.cycle(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


def graph_client(
    origin: str = GRAPH_ORIGIN,
    *,
    connections: int = 64,
    timeout: float = 15.0,
    inner: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for pywa that reaches ``origin`` (Meta's own unless told otherwise)."""
    transport = inner or ShardedTransport(connections)
    if origin.rstrip("/") != GRAPH_ORIGIN:
        transport = OriginTransport(origin, transport)
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout, connect=5.0))
