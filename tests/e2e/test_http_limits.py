"""Huge and slow HTTP requests against a running Guetteur, over real sockets (issue 8, item 5).

A body of 16 million one-character lines froze the API for 30 s and grew the process by
1.4 GB before its 413; a body trickled for minutes or thousands of connections trickling
their headers were held forever; a client leaving mid-body was logged as an ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import select
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from guetteur.config import Settings

from .conftest import Running

LINES = 16_000_000  # b"a\n" each: 32,000,000 bytes, under the default 32 MiB body cap
ATTACKS = 5


def limit_api(settings: Settings, **changes: Any) -> None:
    """Change API settings of the `settings` fixture before `make_running()` reads them."""
    settings.api = settings.api.model_copy(update=changes)


async def public_health_path(http: httpx.AsyncClient) -> str:
    """The health path that answers without a key (the liveness one when health is split)."""
    for path in ("/api/v1/health/live", "/api/v1/health"):
        if (await http.get(path)).status_code == 200:
            return path
    raise AssertionError("no public health path answers")


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def head(running: Running, content_length: int | None, content_type: str = "text/plain") -> bytes:
    length = (f"Content-Length: {content_length}\r\n" if content_length is not None
              else "Transfer-Encoding: chunked\r\n")
    return (f"POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {running.ingest_key}\r\n"
            f"Content-Type: {content_type}\r\n{length}\r\n").encode()


def status_line(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode()


def api_address(running: Running) -> tuple[str, int]:
    return ("127.0.0.1", running.settings.api.port)


def response_complete(data: bytes) -> bool:
    header, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def stream_lines(running: Running, lines: int, keep_sending: bool) -> dict[str, Any]:
    """POST `lines` lines of b"a\\n" as fast as the server reads them, watching for the answer.

    Blocking (run it in a thread): a raw socket that sends while it watches for the answer, as a
    client that streams a large body does; after the answer it stops, or with `keep_sending`
    sends the rest anyway, as curl does. Returns the answer, the bytes sent before it came and
    the seconds it took, and the bytes sent in all."""
    total = 2 * lines
    block = b"a\n" * 32768
    with socket.create_connection(api_address(running), timeout=30) as sock:
        sock.sendall(head(running, total))
        sock.setblocking(False)
        started = time.monotonic()
        sent, answer = 0, b""
        answered_after: tuple[int, float] | None = None
        while time.monotonic() - started < 120 and not (answered_after and (sent == total or not keep_sending)):
            readable, writable, _ = select.select([sock], [sock] if sent < total else [], [], 1.0)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    break
                answer += data
                if answered_after is None and response_complete(answer):
                    answered_after = (sent, time.monotonic() - started)
            elif writable:
                view = memoryview(block)[sent % 2:]  # stay on a line boundary after a partial send
                with_room = view[:total - sent]
                try:
                    sent += sock.send(with_room)
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    break
        sent_before, seconds = answered_after or (sent, time.monotonic() - started)
        return {"answer": answer, "sent": sent_before, "seconds": seconds, "sent_in_all": sent,
                "in_all_seconds": time.monotonic() - started}


_POLLER = """
import http.client, json, select, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
latencies = []
while True:
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=120)
    connection.request("GET", path)
    assert connection.getresponse().status == 200
    connection.close()
    latencies.append(time.monotonic() - started)
    if select.select([sys.stdin], [], [], 0.05)[0]:  # stdin closed: stop
        break
print(json.dumps(latencies))
"""


@contextlib.asynccontextmanager
async def health_polled(running: Running, path: str) -> AsyncIterator[list[float]]:
    """Health answer times (seconds), polled every 50 ms by another process while the block
    runs: the server shares the test's process, whose GIL a frozen loop may hold, so only a
    client outside it sees how long a freeze lasts. The list is filled when the block ends."""
    latencies: list[float] = []
    poller = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _POLLER, "127.0.0.1", str(running.settings.api.port), path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert poller.stdin is not None and poller.stdout is not None
    await asyncio.sleep(0.5)
    try:
        yield latencies
    finally:
        poller.stdin.close()
        out = await asyncio.wait_for(poller.stdout.read(), timeout=180)
        await poller.wait()
        latencies += json.loads(out)


async def test_a_16_million_line_body_is_refused_early_while_the_api_answers(make_running: Any) -> None:
    """The 32 MB body of 16 million one-character lines, sent 5 times, gets 413 once the record
    cap (100,000) is passed, long before its end, although the client goes on sending it; health
    answers meanwhile, and the process grows by far less than the 1.4 GB it took before. (Before,
    the loop split the whole body first: the 413 came after every byte, which `sent` catches.)"""
    async with make_running() as running:
        path = await public_health_path(running.http)
        peak_known = reset_peak_rss()
        before = rss_kib()
        async with health_polled(running, path) as latencies:
            results = [await asyncio.to_thread(stream_lines, running, LINES, True) for _ in range(ATTACKS)]
        after, peak = rss_kib(), rss_kib("VmHWM")
        print(f"\n16M-line body, {ATTACKS} times: {status_line(results[0]['answer'])} after "
              f"{max(result['sent'] for result in results):,} of {2 * LINES:,} bytes at most, in "
              f"{max(result['seconds'] for result in results):.2f} s at most (the client then sent the rest: "
              f"{results[0]['sent_in_all']:,} bytes in {results[0]['in_all_seconds']:.2f} s); "
              f"health {len(latencies)} answers meanwhile, max {max(latencies) * 1000:.0f} ms, "
              f"median {statistics.median(latencies) * 1000:.0f} ms; RSS {before // 1024} MB -> {after // 1024} MB, "
              f"peak {peak // 1024} MB" + ("" if peak_known else " (peak not reset)"))
        for result in results:
            assert status_line(result["answer"]).startswith("HTTP/1.1 413 "), result["answer"][:300]
            assert b"at most 100000" in result["answer"]
            assert result["sent"] < LINES, "refused only after half the body"
        assert latencies, "health never answered during the attacks"
        assert after - before < 300 * 1024
        if peak_known:
            assert peak - before < 300 * 1024
        # the API still ingests
        assert (await running.ingest(b"still here\n")).status_code == 202


async def test_a_32_mb_json_document_is_split_off_the_event_loop(make_running: Any) -> None:
    """A JSON array whose one object holds 10 million empty arrays (32 MB) is scanned in a
    thread, element by element: no health answer waits for half the time the request takes (a
    loop frozen by the decoding would hold one for all of it), the object is kept
    cut to `pipeline.max_record_bytes` as received, and the process does not grow by the
    gigabyte that decoding it whole takes."""
    nested = (32_000_000 - 12) // 3
    document = b'[{"a": [' + b"[]," * nested + b"[]]}]"
    async with make_running() as running:
        path = await public_health_path(running.http)
        peak_known = reset_peak_rss()
        before = rss_kib()
        async with health_polled(running, path) as latencies:
            started = time.monotonic()
            response = await running.ingest(document, "application/json")
            seconds = time.monotonic() - started
        after, peak = rss_kib(), rss_kib("VmHWM")
        print(f"\n32 MB JSON document: {response.status_code} {response.json()} in {seconds:.1f} s; health "
              f"{len(latencies)} answers meanwhile, max {max(latencies) * 1000:.0f} ms; RSS {before // 1024} MB -> "
              f"{after // 1024} MB, peak {peak // 1024} MB" + ("" if peak_known else " (peak not reset)"))
        assert (response.status_code, response.json()) == (202, {"accepted": 1})
        assert max(latencies) < seconds / 2, "the loop was held while the document was read"
        if peak_known:
            assert peak - before < 300 * 1024


async def test_bodies_at_the_caps_are_accepted_and_one_more_is_refused(make_running: Any, settings: Settings) -> None:
    """Exactly `max_records_per_request` records, or exactly `max_body_bytes` bytes, are
    accepted (text, NDJSON and JSON); one record or one byte more is a 413 that says why."""
    limit_api(settings, max_records_per_request=1000, max_body_bytes=1024 * 1024)
    lines = [b"line %d" % number for number in range(1001)]
    objects = [b'{"message": "object %d"}' % number for number in range(1001)]
    async with make_running() as running:
        for body, kind in ((b"\n".join(lines[:1000]), "text/plain"),
                           (b"\r\n".join(objects[:1000]) + b"\r\n", "application/x-ndjson"),
                           (b"[" + b",".join(objects[:1000]) + b"]", "application/json")):
            response = await running.ingest(body, kind)
            assert (response.status_code, response.json()) == (202, {"accepted": 1000}), kind
        for body, kind in ((b"\n".join(lines), "text/plain"), (b"\n".join(objects), "application/x-ndjson"),
                           (b"[" + b",".join(objects) + b"]", "application/json")):
            response = await running.ingest(body, kind)
            assert response.status_code == 413, kind
            assert "more than 1000 records" in response.json()["detail"]
        # 1000 lines of exactly 1 MiB in all, the last one longer
        full = [b"x" * 1047] * 999 + [b"x" * (1024 * 1024 - 999 * 1048 - 1)]
        body = b"\n".join(full) + b"\n"
        assert len(body) == 1024 * 1024
        response = await running.ingest(body)
        assert (response.status_code, response.json()) == (202, {"accepted": 1000})
        response = await running.ingest(body + b"y")
        assert response.status_code == 413
        assert "body larger than 1048576 bytes" in response.json()["detail"]


async def trickle(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    """Send `data` one byte every `interval` seconds, until it is sent or the peer is gone."""
    for byte in data:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except (ConnectionError, RuntimeError):
            return
        await asyncio.sleep(interval)


async def closed_after(reader: asyncio.StreamReader, since: float, limit: float) -> tuple[float, bytes]:
    """Seconds from `since` until the server closes the connection (inf past `limit`), and what it sent."""
    received = b""
    try:
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        return float("inf"), received
    except ConnectionError:
        pass
    return time.monotonic() - since, received


async def test_slowloris_connections_are_closed_after_the_header_timeout(make_running: Any, settings: Settings) -> None:
    """300 connections that send a header byte every 0.5 s are closed `api.header_timeout` (4 s)
    after they opened, although bytes keep arriving; a normal client is answered while all 300
    are still held."""
    limit_api(settings, header_timeout=4.0)
    async with make_running() as running:
        path = await public_health_path(running.http)
        opened = time.monotonic()
        connections = [await asyncio.open_connection(*api_address(running)) for _ in range(300)]
        partial = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + b"X-Slow: " + b"z" * 100
        tricklers = [asyncio.create_task(trickle(writer, partial, 0.5)) for _, writer in connections]
        watchers = [asyncio.create_task(closed_after(reader, opened, 30.0)) for reader, _ in connections]
        answered = []  # seconds from `opened` at which a normal client had its answer
        while not all(watcher.done() for watcher in watchers) and time.monotonic() - opened < 30:
            async with httpx.AsyncClient(base_url=running.info["api"], timeout=10) as fresh:  # a new connection
                assert (await fresh.get(path)).status_code == 200
            answered.append(time.monotonic() - opened)
            await asyncio.sleep(0.2)
        closed = sorted(seconds for seconds, _ in await asyncio.gather(*watchers))
        for task in tricklers:
            task.cancel()
        for _, writer in connections:
            writer.close()
        while_held = sum(1 for seconds in answered if seconds < closed[0])
        print(f"\nslowloris: 300 connections closed after {closed[0]:.1f}-{closed[-1]:.1f} s "
              f"(header timeout 4 s); a normal client answered {len(answered)} times meanwhile, "
              f"{while_held} of them before the first was closed")
        assert closed[-1] < 20, "a trickling connection was held past the header timeout"
        assert closed[0] > 2.0, "closed before its deadline"
        assert while_held >= 1, "no normal client was answered while the trickling connections were held"


async def test_connections_past_the_cap_evict_the_one_waiting_longest(make_running: Any, settings: Settings) -> None:
    """With `api.max_connections` = 50, 200 connections that never finish their request head
    leave at most 50 open (the oldest are closed first), and a normal client is still answered."""
    limit_api(settings, header_timeout=60.0, max_connections=50)
    async with make_running() as running:
        path = await public_health_path(running.http)
        await running.http.aclose()  # its kept-alive connection would count against the cap
        opened = time.monotonic()
        connections = []
        for _ in range(200):
            reader, writer = await asyncio.open_connection(*api_address(running))
            writer.write(b"GET / HTTP/1.1\r\n")
            connections.append((reader, writer))
        watchers = [asyncio.create_task(closed_after(reader, opened, 3.0)) for reader, _ in connections]
        for _ in range(5):
            async with httpx.AsyncClient(base_url=running.info["api"], timeout=10) as fresh:
                assert (await fresh.get(path)).status_code == 200
        closed = [seconds for seconds, _ in await asyncio.gather(*watchers)]
        still_open = [number for number, seconds in enumerate(closed) if seconds == float("inf")]
        for _, writer in connections:
            writer.close()
        print(f"\nconnection cap 50: {200 - len(still_open)} of 200 idle connections closed, "
              f"{len(still_open)} left open (numbers {still_open[:1]}..{still_open[-1:]})")
        assert len(still_open) <= 50
        assert min(still_open) >= 150 - 5, "the newest connections are the ones kept"
        running.http = httpx.AsyncClient(base_url=running.info["api"], timeout=30)


async def test_a_trickled_body_is_cut_after_the_body_timeout(make_running: Any, settings: Settings) -> None:
    """A body sent one byte every 0.2 s (it would take 200 s) gets 408 and is closed once
    `api.body_timeout` (2 s) has passed; nothing of it is accepted."""
    limit_api(settings, body_timeout=2.0)
    async with make_running() as running:
        reader, writer = await asyncio.open_connection(*api_address(running))
        writer.write(head(running, 1000))
        started = time.monotonic()
        sender = asyncio.create_task(trickle(writer, b"slow line\n" * 100, 0.2))
        seconds, answer = await closed_after(reader, started, 15.0)
        sender.cancel()
        writer.close()
        print(f"\ntrickled body: {status_line(answer)!r}, closed after {seconds:.1f} s "
              "(body timeout 2 s)")
        assert seconds < 10
        assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_refused_body_is_not_drained_forever(make_running: Any, settings: Settings) -> None:
    """A chunked body that goes on after its 413 (record cap passed) is read and dropped for at
    most `api.header_timeout` (2 s) after the answer, then the connection is closed."""
    limit_api(settings, header_timeout=2.0, max_records_per_request=1000)
    async with make_running() as running:
        reader, writer = await asyncio.open_connection(*api_address(running))
        writer.write(head(running, None))
        chunk = b"%x\r\n%s\r\n" % (20_000, b"line\n" * 4000)
        started = time.monotonic()

        async def send_forever() -> None:
            while True:
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(0.01)

        sender = asyncio.create_task(send_forever())
        seconds, answer = await closed_after(reader, started, 15.0)
        sender.cancel()
        writer.close()
        print(f"\nendless body after its answer: {status_line(answer)!r}, "
              f"closed after {seconds:.1f} s")
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert seconds < 10


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_client_leaving_mid_body_is_not_an_error(make_running: Any) -> None:
    """A client that closes its connection after 1,000 of 100,000 announced bytes is logged at
    debug level (no `ERROR: Exception in ASGI application` traceback), and ingest goes on."""
    async with make_running() as running:
        records = Records()
        loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "guetteur.api.ingest_body")]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(records)
        logging.getLogger("guetteur.api.ingest_body").setLevel(logging.DEBUG)
        try:
            reader, writer = await asyncio.open_connection(*api_address(running))
            writer.write(head(running, 100_000) + b"half a body\n" * 83)
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.close()
            deadline = time.monotonic() + 10
            while not any("left after" in record.getMessage() for record in records.records):
                assert time.monotonic() < deadline, [record.getMessage() for record in records.records]
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(records)
                logger.setLevel(level)
        errors = [record.getMessage() for record in records.records if record.levelno >= logging.ERROR]
        assert errors == []
        assert (await running.ingest(b"next client\n")).json() == {"accepted": 1}
