"""SyslogUdpSource over real sockets: one datagram one record, cuts, drops."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from guetteur.collect.sink import MemorySink
from guetteur.collect.syslog_udp import SyslogUdpSource
from guetteur.config import Settings


@asynccontextmanager
async def listening(sink: MemorySink, **options: object) -> AsyncIterator[SyslogUdpSource]:
    source = SyslogUdpSource(Settings(), sink, host="127.0.0.1", port=0, **options)  # type: ignore[arg-type]
    await source.start()
    try:
        yield source
    finally:
        await source.stop()


def send(port: int, *datagrams: bytes) -> str:
    """Send datagrams from one client socket; returns the client's "ip:port"."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        for datagram in datagrams:
            client.sendto(datagram, ("127.0.0.1", port))
        host, client_port = client.getsockname()
        return f"{host}:{client_port}"


async def wait_until(source: SyslogUdpSource, total: int) -> None:
    async def _loop() -> None:
        while source.counters.received + source.counters.dropped < total:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_loop(), 10)


async def test_one_datagram_is_one_record_with_its_peer() -> None:
    sink = MemorySink()
    async with listening(sink) as source:
        peer = send(source.bound_port or 0, b"<13>plain", b"<13>with lf\n", b"<13>with crlf nul\r\n\x00", b"")
        records = await sink.wait_for(3)
    assert [r.data for r in records] == [b"<13>plain", b"<13>with lf", b"<13>with crlf nul"]
    assert {r.peer for r in records} == {peer}
    assert {r.source for r in records} == {"syslog-udp"}
    assert source.counters.received == 3


async def test_newlines_inside_a_datagram_do_not_split_it() -> None:
    sink = MemorySink()
    async with listening(sink) as source:
        send(source.bound_port or 0, b"<13>first line\nsecond line")
        records = await sink.wait_for(1)
    assert records[0].data == b"<13>first line\nsecond line"


async def test_oversized_datagram_is_cut_and_tagged() -> None:
    sink = MemorySink()
    async with listening(sink, max_record_bytes=1024) as source:
        send(source.bound_port or 0, b"<13>" + b"y" * 60_000, b"<13>next")
        records = await sink.wait_for(2)
    assert len(records[0].data) == 1024 and records[0].meta == {"truncated": True}
    assert records[1].data == b"<13>next" and records[1].meta is None
    assert source.counters.truncated == 1


async def test_garbage_and_invalid_utf8_are_kept() -> None:
    sink = MemorySink()
    garbage = os.urandom(2000).rstrip(b"\r\n\x00") + b"!"
    async with listening(sink) as source:
        send(source.bound_port or 0, garbage, b"\xc3\x28\xff")
        records = await sink.wait_for(2)
    assert records[0].data == garbage
    assert records[1].data == b"\xc3\x28\xff" and records[1].text() == "\ufffd(\ufffd"


async def test_a_full_sink_counts_drops_and_the_listener_goes_on() -> None:
    sink = MemorySink(capacity=3)
    async with listening(sink) as source:
        send(source.bound_port or 0, *(b"<13>message %d" % i for i in range(10)))
        await wait_until(source, 10)
        assert source.counters.received == 3 and source.counters.dropped == 7
        assert [r.data for r in sink.take_all()] == [b"<13>message 0", b"<13>message 1", b"<13>message 2"]
        send(source.bound_port or 0, b"<13>after draining")
        records = await sink.wait_for(1)
    assert records[0].data == b"<13>after draining"


async def test_stop_closes_the_socket() -> None:
    source = SyslogUdpSource(Settings(), MemorySink(), host="127.0.0.1", port=0)
    await source.start()
    port = source.bound_port or 0
    await source.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", port))  # free again


def test_from_settings() -> None:
    settings = Settings(syslog={"udp_port": 0}, pipeline={"max_record_bytes": 2048})
    source = SyslogUdpSource(settings, MemorySink())
    assert (source.port, source.max_record_bytes) == (0, 2048)
