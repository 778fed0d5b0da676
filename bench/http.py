"""A bare keep-alive HTTP/1.1 connection for load generators.

Load tests used to share one ``httpx.AsyncClient``: with 200 connections its pool spent ~15 ms
of CPU per request, so the client process took most of the machine's two cores and its own
queueing showed up as server latency. This one parses only what it needs: the status line and
``Content-Length``.
"""

from __future__ import annotations

import asyncio
import os


class KeepAlive:
    """One connection, as one client (a script, a browser tab, Telegram's sender) holds."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.reconnects = 0
        self.body = b""  # of the last response, for checks that read what was answered

    async def send(self, request: bytes) -> int:
        """One raw request on the connection (opened on first use); the response's status.

        A kept-alive connection the server has since closed for idleness (uvicorn: after 5 s)
        fails before any answer; like any HTTP client, reconnect once and send again.
        """
        reused = self.streams is not None
        self.body = b""
        try:
            return await self._exchange(request)
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as exc:
            partial = getattr(exc, "partial", b"")
            if not reused or partial:
                raise
            self.close()
            self.reconnects += 1
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.body = await reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has spent (Linux ``/proc``; 0 elsewhere): on a shared
    machine a server's CPU per request survives the load that wall-clock figures do not."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
