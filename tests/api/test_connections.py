"""The API's HTTP protocol on a real uvicorn server and real sockets, with a small ASGI app
that reads bodies as any route with a body would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from tests.conftest import free_port

from guetteur.api import connections
from guetteur.api.connections import guarded_h11_protocol
from guetteur.config import ApiSettings


async def body_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the size of the request body, read to its end."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """HTTP: `body_echo`; WebSocket: accepts, then echoes each text message."""
    if scope["type"] == "http":
        await body_echo(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        else:
            return


@contextlib.asynccontextmanager
async def serving(**limits: Any) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(echo_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            http=guarded_h11_protocol(ApiSettings(**limits)))
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


async def request(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    return answer


async def seconds_until_closed(reader: asyncio.StreamReader, limit: float) -> float:
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return float("inf")
    except ConnectionError:
        pass
    return time.monotonic() - started


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
GET_CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


async def test_a_body_trickled_to_any_route_is_cut_after_the_body_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A route that reads its body (not only ingest, which answers 408 itself) loses a client
    that trickles it, `body_timeout` + `BODY_GRACE` seconds after the request head."""
    monkeypatch.setattr(connections, "BODY_GRACE", 0.5)
    async with serving(body_timeout=1.0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(1000):
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.1)

        sender = asyncio.create_task(trickle())
        seconds = await seconds_until_closed(reader, 10)
        sender.cancel()
        writer.close()
        assert 1.0 < seconds < 6
        # a body sent at once is read whole
        assert (await request(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    b"Connection: close\r\n\r\nhello")).endswith(b"\r\n\r\n5")


async def test_when_every_connection_is_in_a_request_a_new_one_is_closed() -> None:
    """With `max_connections` = 5 held by requests whose bodies are pending, a sixth connection
    is closed at once and none of the five is evicted; once the body deadline has cut them,
    new clients are served again."""
    async with serving(max_connections=5, body_timeout=1.0) as port:
        busy = []
        for _ in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nsome")
            busy.append((reader, writer))
        await asyncio.sleep(0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET)
        assert await seconds_until_closed(reader, 1.0) < 1.0
        writer.close()
        assert all(not reader.at_eof() for reader, _ in busy)
        cut = await asyncio.gather(*(seconds_until_closed(reader, 15) for reader, _ in busy))
        assert max(cut) < 15
        for _, writer in busy:
            writer.close()
        assert (await request(port, GET_CLOSE)).startswith(b"HTTP/1.1 200 ")


async def test_a_kept_alive_connection_serves_requests_until_it_idles_past_the_head_deadline() -> None:
    """The head deadline restarts after each answer: a client that sends its next request
    within it is served on the same connection; one that sends nothing is closed after it."""
    async with serving(header_timeout=1.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):
            writer.write(GET)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert await asyncio.wait_for(reader.readexactly(1), timeout=5) == b"0"
            await asyncio.sleep(1.0)
        seconds = await seconds_until_closed(reader, 10)
        writer.close()
        assert seconds < 10, "an idle kept-alive connection was never closed"


async def test_a_websocket_outlives_the_head_deadline() -> None:
    """A connection upgraded to a WebSocket (the live stream) is no longer under the head
    deadline armed when it opened: it still answers well after it."""
    async with serving(header_timeout=1.0) as port, websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
        await ws.send("first")
        assert await asyncio.wait_for(ws.recv(), timeout=5) == "first"
        await asyncio.sleep(2.5)
        await ws.send("later")
        assert await asyncio.wait_for(ws.recv(), timeout=5) == "later"
