"""How many syslog lines per second `SyslogTcpSource` cuts on one core.

A separate process sends N RFC 5424 lines (newline framing, then octet counting) over
one TCP connection; the source runs in this process with a sink that only counts.
Prints lines/s and MB/s for each framing. Usage: python bench/collect_syslog_tcp.py [N]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import sys
import time

from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.config import Settings
from guetteur.model import RawRecord

LINE = (
    b"<34>1 2024-05-01T12:00:00.000Z web01 sshd 4242 - - "
    b"Failed password for invalid user admin from 203.0.113.5 port 51234 ssh2"
)


class CountingSink:
    def __init__(self, expected: int) -> None:
        self.count = 0
        self.expected = expected
        self.done = asyncio.Event()

    async def put(self, record: RawRecord) -> None:
        self.count += 1
        if self.count == self.expected:
            self.done.set()

    def offer(self, record: RawRecord) -> bool:
        self.count += 1
        return True


def _send(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(payload)


async def _run(n: int, framing: str) -> tuple[float, int]:
    if framing == "newline":
        payload = (LINE + b"\n") * n
    else:
        payload = (str(len(LINE)).encode() + b" " + LINE) * n
    sink = CountingSink(n)
    source = SyslogTcpSource(Settings(), sink, host="127.0.0.1", port=0)
    await source.start()
    assert source.bound_port is not None
    sender = multiprocessing.Process(target=_send, args=(source.bound_port, payload))
    started = time.perf_counter()
    sender.start()
    await sink.done.wait()
    elapsed = time.perf_counter() - started
    sender.join()
    await source.stop()
    return elapsed, len(payload)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for framing in ("newline", "octet-counting"):
        elapsed, size = asyncio.run(_run(n, framing))
        print(
            f"syslog-tcp {framing:>14}: {n:,} lines in {elapsed:.2f} s = "
            f"{n / elapsed:,.0f} lines/s, {size / elapsed / 1e6:.0f} MB/s"
        )


if __name__ == "__main__":
    main()
