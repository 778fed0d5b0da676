"""The lean HTTP client of the broadcast hot path against a real socket server: answers,
kept-alive connections, a bounded pool, closed connections, timeouts and refusals."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import uvloop

from bot.channels.base import OutgoingPost, Prepares
from bot.channels.telegram import SENDS_PER_CONNECTION, TelegramChannel
from bot.channels.wire import JsonPoster, WireError, Withheld, direct, may_write, tls_context

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    """A minimal HTTP/1.1 server; ``handler`` answers each request (head + body bytes).
    The list counts the connections accepted."""
    accepted: list[int] = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                await handler(head + body, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/bot123:X/", accepted


def answer(writer: asyncio.StreamWriter, status: int, body: bytes, *, close: bool = False) -> None:
    extra = b"Connection: close\r\n" if close else b""
    writer.write(
        b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
        % (status, extra, len(body), body)
    )


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_posts_reuse_a_bounded_pool_and_read_each_answer(loop: str) -> None:
    seen: list[bytes] = []

    async def echo(request: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(request)
        await asyncio.sleep(0.01)
        body = request.split(b"\r\n\r\n", 1)[1]
        answer(writer, 200, json.dumps({"ok": True, "result": json.loads(body)}).encode())

    async def scenario() -> tuple[list[tuple[int, bytes]], int]:
        server, url, accepted = await serve(echo)
        poster = JsonPoster(url, connections=4, headers={"Authorization": "Bearer T"})
        try:
            answers = await asyncio.gather(
                *(poster.post("sendMessage", json.dumps({"n": n}).encode()) for n in range(50))
            )
        finally:
            await poster.aclose()
            server.close()
        return answers, len(accepted)

    factory = uvloop.new_event_loop if loop == "uvloop" else None  # gaung worker runs on uvloop
    with asyncio.Runner(loop_factory=factory) as runner:
        answers, connections = runner.run(scenario())
    assert [json.loads(body)["result"]["n"] for _, body in answers] == list(range(50))
    assert {status for status, _ in answers} == {200}
    assert connections == 4  # 50 requests, never more than the pool's four connections
    assert seen[0].startswith(b"POST /bot123:X/sendMessage HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer T\r\n" in seen[0]


def test_a_connection_the_server_closes_is_replaced_and_errors_are_answers() -> None:
    async def closing(request: bytes, writer: asyncio.StreamWriter) -> None:
        answer(writer, 429, b'{"ok":false,"error_code":429}', close=True)
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[list[int], int]:
        server, url, accepted = await serve(closing)
        poster = JsonPoster(url, connections=2)
        try:
            statuses = [(await poster.post("sendMessage", b"{}"))[0] for _ in range(3)]
        finally:
            await poster.aclose()
            server.close()
        return statuses, len(accepted)

    statuses, connections = asyncio.run(scenario())
    assert statuses == [429, 429, 429]
    assert connections == 3  # each answer closed its connection: a new one each time


def test_a_slow_answer_times_out_and_a_refused_connection_is_an_oserror() -> None:
    async def silent(request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def scenario() -> None:
        server, url, _ = await serve(silent)
        poster = JsonPoster(url, connections=1, timeout=0.2)
        try:
            with pytest.raises(TimeoutError):
                await poster.post("sendMessage", b"{}")
        finally:
            await poster.aclose()
            server.close()
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        refused = JsonPoster(f"http://127.0.0.1:{port}/", connections=1)
        with pytest.raises(OSError):
            await refused.post("x", b"{}")
        await refused.aclose()

    asyncio.run(scenario())


def test_a_server_dropping_the_connection_mid_request_is_a_wire_error() -> None:
    async def drop(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    async def scenario() -> None:
        server, url, _ = await serve(drop)
        poster = JsonPoster(url, connections=1)
        try:
            with pytest.raises(WireError):
                await poster.post("sendMessage", b"{}")
            with pytest.raises(WireError):  # and the pool is not stuck with the dead one
                await poster.post("sendMessage", b"{}")
        finally:
            await poster.aclose()
            server.close()

    asyncio.run(scenario())


def test_a_proxy_setting_sends_the_channels_back_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert direct("https://api.telegram.org")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert not direct("https://api.telegram.org")
    assert direct("http://127.0.0.1:8081")  # plain http: that proxy does not apply


def test_connections_idle_past_the_keepalive_are_closed_before_the_server_closes_them() -> None:
    """A server closes idle connections after its own keep-alive (uvicorn: 5 s); a request
    written into one it is closing fails as a dropped connection. The pool closes them first."""

    async def ok(request: bytes, writer: asyncio.StreamWriter) -> None:
        answer(writer, 200, b'{"ok":true,"result":{}}')

    async def scenario(keepalive: float) -> int:
        server, url, accepted = await serve(ok)
        poster = JsonPoster(url, connections=2, keepalive=keepalive)
        try:
            await poster.post("sendMessage", b"{}")
            await asyncio.sleep(0.15)
            await poster.post("sendMessage", b"{}")
        finally:
            await poster.aclose()
            server.close()
        return len(accepted)

    assert asyncio.run(scenario(keepalive=0.05)) == 2  # idle too long: a fresh connection
    assert asyncio.run(scenario(keepalive=5.0)) == 1  # idle briefly: the same one


def test_the_tls_context_verifies_and_honours_ssl_cert_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """httpx's default TLS settings without httpx: certificates and host names checked, and
    ``SSL_CERT_FILE`` (a private CA behind a proxy) used when set."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # certifi's bundle loaded
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError):
        tls_context()


def test_a_claimed_batch_opens_its_connections_before_its_first_send() -> None:
    """``TelegramChannel.prepare`` (a claimed batch) opens one connection per
    ``SENDS_PER_CONNECTION`` sends before any of them is written, never more than the pool;
    the sends then use them (no new connection, so no send waits for one to open and leaves
    bunched with others: a burst a strict limiter counts against the whole second)."""

    async def ok(request: bytes, writer: asyncio.StreamWriter) -> None:
        answer(writer, 200, b'{"ok": true, "result": {"message_id": 7}}')

    def post(n: int) -> OutgoingPost:
        return OutgoingPost(n, str(n), "https://x.test/p/1", None, "instagram", "Diskominfo")

    async def scenario() -> tuple[int, int, int, int]:
        server, url, accepted = await serve(ok)
        channel = TelegramChannel("123:X", url.split("/bot")[0], connections=4)
        try:
            assert isinstance(channel, Prepares)
            channel.prepare([post(n) for n in range(SENDS_PER_CONNECTION * 2)])
            await asyncio.sleep(0.2)
            warmed = len(accepted)
            channel.prepare([post(n) for n in range(SENDS_PER_CONNECTION * 10)])  # pool: 4
            await asyncio.sleep(0.2)
            capped = len(accepted)
            before = len(accepted)
            await asyncio.gather(*(channel.send_post(post(n)) for n in range(4)))
            return warmed, capped, before, len(accepted)
        finally:
            await channel.aclose()
            server.close()

    warmed, capped, before, after = asyncio.run(scenario())
    assert warmed == 2
    assert capped == 4
    assert after == before  # the sends found their connections open


def test_a_request_that_may_no_longer_be_written_once_a_connection_is_free_is_withheld() -> None:
    """``may_write`` is asked once the request has its connection: a send that waited for one
    (the pool busy) past its slot, or into a flood wait, is not written (``Withheld``) and the
    connection goes back to the pool; a send allowed is written as usual."""
    seen: list[bytes] = []

    async def slow(request: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(request)
        await asyncio.sleep(0.05)
        answer(writer, 200, b'{"ok": true, "result": 1}')

    async def scenario() -> tuple[list[str], int]:
        server, url, _ = await serve(slow)
        poster = JsonPoster(url, connections=1)
        allowed = {"first": True, "late": False, "later": True}

        async def send(name: str) -> str:
            may_write.set(lambda backlog: allowed[name])
            try:
                await poster.post("sendMessage", json.dumps({"n": name}).encode())
            except Withheld:
                return f"{name}: withheld"
            return f"{name}: sent"

        try:
            outcomes = list(await asyncio.gather(send("first"), send("late"), send("later")))
        finally:
            await poster.aclose()
            server.close()
        return outcomes, len(seen)

    outcomes, written = asyncio.run(scenario())
    assert outcomes == ["first: sent", "late: withheld", "later: sent"]
    assert written == 2


def test_the_backlog_is_how_long_the_server_held_a_request_beyond_its_quickest_answer() -> None:
    """A server that stops answering (its process stalled) holds what is written meanwhile and
    answers it all at once: ``backlog`` grows while the oldest request waits beyond the
    quickest recent answer, a paced send told so by ``may_write`` is not written, and it is
    back to zero once the server answers."""
    hold = asyncio.Event()

    async def stalling(request: bytes, writer: asyncio.StreamWriter) -> None:
        if b'"hold"' in request:
            await hold.wait()
        answer(writer, 200, b'{"ok": true, "result": 1}')

    async def scenario() -> tuple[float, float, str, float]:
        server, url, _ = await serve(stalling)
        poster = JsonPoster(url, connections=4)
        try:
            for _ in range(5):  # quick answers: the floor
                await poster.post("sendMessage", b'{"n": 1}')
            idle = poster.backlog()
            held = asyncio.create_task(poster.post("sendMessage", b'{"n": "hold"}'))
            await asyncio.sleep(0.2)
            stalled = poster.backlog()
            may_write.set(lambda backlog: backlog <= 0.02)
            try:
                await poster.post("sendMessage", b'{"n": 2}')
                gated = "sent"
            except Withheld:
                gated = "withheld"
            may_write.set(None)
            hold.set()
            await held
            return idle, stalled, gated, poster.backlog()
        finally:
            await poster.aclose()
            server.close()

    idle, stalled, gated, after = asyncio.run(scenario())
    assert idle == 0.0
    assert 0.15 <= stalled <= 0.3
    assert gated == "withheld"
    assert after == 0.0
