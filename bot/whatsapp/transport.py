"""Reaching another Graph API origin (the emulator) with pywa, whose address is fixed.

pywa sets ``https://graph.facebook.com/v<ver>`` as its httpx client's base URL. Rather than
patch the library's private attributes, its client gets this transport, which sends each
request to the configured origin (scheme, host, port and an optional path prefix) and leaves
the path pywa built, the headers and the body as they are.
"""

from __future__ import annotations

import httpx

GRAPH_ORIGIN = "https://graph.facebook.com"


class OriginTransport(httpx.AsyncBaseTransport):
    """Rewrites every request's origin to ``origin``, then hands it to ``inner``."""

    def __init__(self, origin: str, inner: httpx.AsyncBaseTransport) -> None:
        url = httpx.URL(origin)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self._url = url
        self._prefix = url.path.rstrip("/")
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self._url
        request.url = request.url.copy_with(
            scheme=target.scheme,
            host=target.host,
            port=target.port,
            path=self._prefix + request.url.path,
        )
        request.headers["Host"] = request.url.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def graph_client(
    origin: str = GRAPH_ORIGIN,
    *,
    connections: int = 64,
    timeout: float = 15.0,
    inner: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for pywa that reaches ``origin`` (Meta's own unless told otherwise)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = inner or httpx.AsyncHTTPTransport(limits=limits)
    if origin.rstrip("/") != GRAPH_ORIGIN:
        transport = OriginTransport(origin, transport)
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout, connect=5.0))
