"""How many syslog records per second the collection sources cut, on one core.

* syslog TCP: a separate process sends N RFC 5424 lines over one connection, newline
  framed then octet counted; the source runs here, handing records (a) to a sink that
  only counts, (b) to the pipeline's real `RecordBuffer` drained by a task (as `guetteur up`
  does, minus the parser workers);
* syslog UDP: a separate process sends N datagrams; received and dropped are printed;
* file tail: one file of N lines read from the start.

Usage: python bench/collect_syslog_tcp.py [N]   (default 1,000,000)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

from guetteur.collect.file_tail import FileTailSource
from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.collect.syslog_udp import SyslogUdpSource
from guetteur.config import FileInput, Settings
from guetteur.model import RawRecord
from guetteur.pipeline.buffer import RecordBuffer
from guetteur.pipeline.counters import Counters

LINE = (
    b"<34>1 2024-05-01T12:00:00.000Z web01 sshd 4242 - - "
    b"Failed password for invalid user admin from 203.0.113.5 port 51234 ssh2"
)


class CountingSink:
    """Counts and forgets: the cost of the source alone."""

    def __init__(self, expected: int) -> None:
        self.count = 0
        self.expected = expected
        self.done = asyncio.Event()

    async def put(self, record: RawRecord) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.done.set()

    def offer(self, record: RawRecord) -> bool:
        self.count += 1
        return True


class BufferSink:
    """The pipeline's bounded buffer, drained batch by batch by a task."""

    def __init__(self, expected: int) -> None:
        self.buffer = RecordBuffer(200_000, 5_000, 0.2, Counters())
        self.count = 0
        self.expected = expected
        self.done = asyncio.Event()
        self.put = self.buffer.put
        self.offer = self.buffer.offer

    async def drain(self) -> None:
        while self.count < self.expected:
            batch = await self.buffer.next_batch()
            if batch is None:
                return
            self.count += len(batch)
        self.done.set()


def _send_tcp(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(payload)


def _send_udp(port: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(count):
            sock.sendto(LINE, ("127.0.0.1", port))


async def _tcp(n: int, framing: str, sink_kind: str) -> float:
    if framing == "newline":
        payload = (LINE + b"\n") * n
    else:
        payload = (str(len(LINE)).encode() + b" " + LINE) * n
    sink: CountingSink | BufferSink = CountingSink(n) if sink_kind == "counting" else BufferSink(n)
    drain = asyncio.create_task(sink.drain()) if isinstance(sink, BufferSink) else None
    source = SyslogTcpSource(Settings(), sink, host="127.0.0.1", port=0)
    await source.start()
    sender = multiprocessing.Process(target=_send_tcp, args=(source.bound_port, payload))
    started = time.perf_counter()
    sender.start()
    await sink.done.wait()
    elapsed = time.perf_counter() - started
    sender.join()
    await source.stop()
    if drain is not None:
        drain.cancel()
    return elapsed


async def _udp(n: int) -> tuple[float, int, int]:
    sink = CountingSink(n)
    source = SyslogUdpSource(Settings(), sink, host="127.0.0.1", port=0)
    await source.start()
    sender = multiprocessing.Process(target=_send_udp, args=(source.bound_port, n))
    started = time.perf_counter()
    sender.start()
    while sender.is_alive():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # what is still in the socket buffer
    elapsed = time.perf_counter() - started
    await source.stop()
    return elapsed, source.counters.received, n - source.counters.received


async def _file(n: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.log"
        path.write_bytes((LINE + b"\n") * n)
        sink = CountingSink(n)
        settings = Settings(data_dir=Path(folder), file_inputs=[FileInput(path=str(path))])
        source = FileTailSource(settings, sink, poll_interval=0.01)
        started = time.perf_counter()
        await source.start()
        await sink.done.wait()
        elapsed = time.perf_counter() - started
        await source.stop()
        return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    size = len(LINE) + 1
    for sink_kind in ("counting", "RecordBuffer"):
        for framing in ("newline", "octet-counting"):
            elapsed = asyncio.run(_tcp(n, framing, sink_kind))
            print(f"syslog-tcp {framing:>14} -> {sink_kind:<12}: {n / elapsed:>11,.0f} records/s "
                  f"({n * size / elapsed / 1e6:,.0f} MB/s, {n:,} records)")
    elapsed = asyncio.run(_file(n))
    print(f"file tail                   -> counting    : {n / elapsed:>11,.0f} records/s ({n:,} lines)")
    elapsed, received, lost = asyncio.run(_udp(min(n, 200_000)))
    print(f"syslog-udp                  -> counting    : {received / elapsed:>11,.0f} records/s "
          f"(received {received:,}, lost before the source {lost:,}; sender-bound)")


if __name__ == "__main__":
    main()
