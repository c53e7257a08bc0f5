"""Helpers for tests of stream listeners over real sockets: a listening source, raw
client sockets bound to chosen loopback addresses, and the descriptor budget they need."""

from __future__ import annotations

import asyncio
import errno
import resource
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from guetteur.collect.sink import MemorySink, RecordSink
from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.config import Settings
from guetteur.model import RawRecord


@asynccontextmanager
async def listening(sink: RecordSink, settings: Settings | None = None, **options: object
                    ) -> AsyncIterator[SyslogTcpSource]:
    """A started `SyslogTcpSource` on 127.0.0.1 and a free port, stopped on exit."""
    source = SyslogTcpSource(settings or Settings(), sink, host="127.0.0.1", port=0, **options)  # type: ignore[arg-type]
    await source.start()
    try:
        yield source
    finally:
        await source.stop()


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `condition()` holds; TimeoutError after `timeout` seconds."""
    async def _loop() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_loop(), timeout)


def need_descriptors(count: int) -> None:
    """Raise the soft limit of open files to at least `count` (up to the hard limit), or skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def loopback(n: int) -> str:
    """The n-th loopback address after 127.0.0.1 (n >= 1): 127.0.0.2, 127.0.0.3, ..."""
    n += 1
    return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


async def connect_from(address: str, port: int) -> socket.socket:
    """A non-blocking TCP socket bound to `address`, connected to 127.0.0.1:`port`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.bind((address, 0))
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed this client socket (FIN or RST received)."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    except OSError as exc:
        return exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN)


def blocking_sender(port: int, lines: int, line_size: int, progress: list[int]) -> None:
    """Send numbered lines (``%08d x...``) from a thread with a plain blocking socket;
    progress[0] = bytes sent so far."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65_536)
        filler = b"x" * (line_size - 10)
        batch = 64
        for start in range(0, lines, batch):
            chunk = b"".join(b"%08d %s\n" % (n, filler) for n in range(start, min(start + batch, lines)))
            conn.sendall(chunk)
            progress[0] += len(chunk)


async def until_blocked(progress: list[int], interval: float = 0.5) -> None:
    """Wait until a `blocking_sender` makes no progress over `interval`: it is blocked."""
    last = -1
    while progress[0] != last:
        last = progress[0]
        await asyncio.sleep(interval)


class BulkMemorySink(MemorySink):
    """A `MemorySink` that also takes records in bulk as the pipeline does
    (`offer_upto` / `wait_for_space`), so that the listener's bulk path is exercised."""

    def offer_upto(self, records: list[RawRecord], start: int = 0) -> int:
        end = start
        while end < len(records) and self.offer(records[end]):
            end += 1
        return end

    async def wait_for_space(self) -> None:
        if self._full():
            self.put_waits += 1
        while self._full():
            self._room.clear()
            await self._room.wait()
