"""SyslogTcpSource's slots under attack, over real sockets: floods of idle connections from
many addresses, one address opening too many, unfinished frames held forever, and a
sender blocked by backpressure that must not be mistaken for an idle one.

The settings are passed through `Settings(syslog=...)`, as a user sets them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import pytest
from tests.collect.tcp_helpers import (
    BulkMemorySink,
    blocking_sender,
    closed_by_server,
    connect_from,
    eventually,
    listening,
    loopback,
    need_descriptors,
    until_blocked,
)

from guetteur.collect.sink import MemorySink
from guetteur.config import Settings


async def _flood(port: int, count: int, addresses: int, first: int = 1) -> list[socket.socket]:
    """`count` silent connections, spread over `addresses` loopback addresses from `first` on."""
    return [await connect_from(loopback(first + i % addresses), port) for i in range(count)]


def _close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


async def test_an_idle_flood_from_many_addresses_cannot_lock_out_a_sender() -> None:
    """The issue's attack: 2,000 silent connections from 200 addresses fill the 1,000 slots.
    A real sender connecting next gets in at once and every line it sends is received, while
    1,000 more silent connections arrive from other addresses during its sending: it is never
    evicted, because silent connections are evicted first. Open connections never exceed
    the maximum (idle timeout set far away: eviction alone must do it)."""
    need_descriptors(10_000)
    sink = MemorySink()
    settings = Settings(syslog={"idle_timeout": 600, "frame_timeout": 600})
    async with listening(sink, settings) as source:
        port = source.bound_port or 0
        counters = source.counters
        loop = asyncio.get_running_loop()
        flood = await _flood(port, 2000, addresses=200)
        await eventually(lambda: counters.connections + counters.connections_rejected == 2000, 60)
        await eventually(lambda: counters.connections_open == 1000, 30)
        await eventually(lambda: sum(map(closed_by_server, flood)) == 1000, 30)
        held_after_flood = (counters.connections_open, counters.connections_evicted, counters.connections_rejected)

        started = loop.time()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"<13>sender line 0000\n")
        await writer.drain()
        await sink.wait_for(1, timeout=10)
        time_to_get_in = loop.time() - started

        sent, second_wave = 1, []
        for batch in range(10):
            writer.write(b"".join(b"<13>sender line %04d\n" % (sent + i) for i in range(100)))
            await writer.drain()
            sent += 100
            second_wave += await _flood(port, 100, addresses=50, first=300 + 50 * batch)
            assert len(source.table) <= 1000  # slots held (an evicted one closes a loop turn later)
        records = await sink.wait_for(sent, timeout=30)
        await eventually(lambda: counters.connections + counters.connections_rejected == 3001, 30)
        assert not reader.at_eof()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        print(
            f"\nafter 2,000 idle: open/evicted/refused = {held_after_flood}; sender in after "
            f"{time_to_get_in * 1000:.1f} ms; lines received {len(records)}/{sent}; after 1,000 "
            f"more idle: evicted {counters.connections_evicted}, refused {counters.connections_rejected}"
        )
        _close_all(flood + second_wave)
    assert held_after_flood == (1000, 1000, 0)
    assert [r.data for r in records] == [b"<13>sender line %04d" % n for n in range(sent)]
    assert len({r.peer for r in records}) == 1  # one connection throughout: never cut
    assert counters.connections_evicted == 2001  # the flood's second half, the sender, the second wave
    assert counters.connections_rejected == 0


async def test_silent_connections_are_closed_after_the_idle_timeout_and_a_talking_one_is_kept() -> None:
    """999 connections that send nothing are closed once `idle_timeout` has passed (the
    client sees the close) and counted; a connection that sends a line every 0.2 s for
    longer than the timeout is kept and loses nothing (999 + 1: no eviction involved)."""
    need_descriptors(6_000)
    sink = MemorySink()
    settings = Settings(syslog={"idle_timeout": 2.0})
    async with listening(sink, settings) as source:
        port = source.bound_port or 0
        counters = source.counters
        loop = asyncio.get_running_loop()
        started = loop.time()
        idle = await _flood(port, 999, addresses=100)
        flooded = loop.time() - started
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def talk() -> None:
            for n in range(25):  # 5 s: more than twice the timeout
                writer.write(b"<13>talking %02d\n" % n)
                await writer.drain()
                await asyncio.sleep(0.2)

        talking = asyncio.create_task(talk())
        await eventually(lambda: counters.connections_closed_idle == 999, 60)
        await eventually(lambda: all(map(closed_by_server, idle)), 30)
        all_closed_after = loop.time() - started
        await talking
        writer.write(b"<13>still here\n")
        await writer.drain()
        records = await sink.wait_for(26)
        assert counters.connections_open == 1
        print(f"\n999 idle connections (opened in {flooded:.1f} s) all closed {all_closed_after:.1f} s "
              "after the first was opened (timeout 2 s)")
        writer.close()
        _close_all(idle)
    assert [r.data for r in records] == [b"<13>talking %02d" % n for n in range(25)] + [b"<13>still here"]
    assert counters.connections_closed_idle == 999 and counters.connections_evicted == 0


async def test_one_address_beyond_its_quota_is_refused_and_other_addresses_get_in() -> None:
    """`max_connections_per_address` = 5: the 6th, 7th and 8th connections of one address
    are refused (and see the close), counted by reason; another address still connects and
    sends; a slot freed by the first address can be taken by it again."""
    sink = MemorySink()
    settings = Settings(syslog={"max_connections_per_address": 5})
    async with listening(sink, settings) as source:
        port = source.bound_port or 0
        counters = source.counters
        loop = asyncio.get_running_loop()
        greedy = [await connect_from("127.0.0.2", port) for _ in range(8)]
        await eventually(lambda: counters.connections + counters.connections_rejected == 8)
        await eventually(lambda: sum(map(closed_by_server, greedy)) == 3)
        assert (counters.connections_open, counters.connections_rejected_per_address) == (5, 3)
        assert counters.connections_rejected == 3 and counters.connections_evicted == 0
        other = await connect_from("127.0.0.3", port)
        await loop.sock_sendall(other, b"<13>from another address\n")
        await sink.wait_for(1)
        greedy[0].close()
        await eventually(lambda: counters.connections_open == 5)
        again = await connect_from("127.0.0.2", port)
        await loop.sock_sendall(again, b"<13>a freed slot\n")
        records = await sink.wait_for(2)
        _close_all([*greedy, other, again])
    assert [r.data for r in records] == [b"<13>from another address", b"<13>a freed slot"]
    assert counters.connections_rejected_per_address == 3


async def test_a_line_never_finished_is_emitted_and_its_connection_closed_after_the_frame_timeout() -> None:
    """A line without its newline, kept alive by one byte every 0.1 s (so never idle), and
    an octet-counted frame never completed are each held at most `frame_timeout`: the
    partial record is emitted as at end of stream, and the connection is closed."""
    sink = MemorySink()
    settings = Settings(syslog={"frame_timeout": 0.5, "idle_timeout": 60})
    async with listening(sink, settings) as source:
        port = source.bound_port or 0
        counters = source.counters
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"<13>no newline yet ")
        for _ in range(100):  # 10 s at most
            if counters.connections_closed_frame_timeout:
                break
            with contextlib.suppress(ConnectionError):
                writer.write(b"x")
                await writer.drain()
            await asyncio.sleep(0.1)
        line = (await sink.wait_for(1))[0]
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()

        octet_reader, octet_writer = await asyncio.open_connection("127.0.0.1", port)
        octet_writer.write(b"100 only part of it")
        await octet_writer.drain()
        octet = (await sink.wait_for(2, timeout=15))[1]
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(octet_reader.read(), 10) == b""
        octet_writer.close()
    assert line.data.startswith(b"<13>no newline yet x") and line.meta is None
    assert octet.data == b"only part of it" and octet.meta == {"truncated": True}
    assert counters.connections_closed_frame_timeout == 2 and counters.connections_closed_idle == 0


@pytest.mark.parametrize("bulk", [False, True], ids=["put", "offer_upto"])
async def test_a_sender_blocked_by_backpressure_is_neither_idle_nor_evicted(bulk: bool) -> None:
    """With the sink full the listener stops reading and the sender blocks. For four times
    the idle and frame timeouts it sends nothing the listener reads, yet it is not closed;
    a newcomer finds the only slot busy and is refused (nothing to evict). Once the sink
    drains every line arrives, in order."""
    sink = BulkMemorySink(capacity=10) if bulk else MemorySink(capacity=10)
    sink.pause()
    line_size, lines = 1000, 20_000  # 20 MB: far more than every buffer on the way
    progress = [0]
    settings = Settings(syslog={"idle_timeout": 0.5, "frame_timeout": 0.5, "max_connections": 1})
    async with listening(sink, settings) as source:
        port = source.bound_port or 0
        counters = source.counters
        sender = threading.Thread(target=blocking_sender, args=(port, lines, line_size, progress), daemon=True)
        sender.start()
        await until_blocked(progress)
        assert sink.put_waits >= 1 and progress[0] < lines * line_size
        await asyncio.sleep(2.0)
        newcomer = await connect_from("127.0.0.2", port)
        await eventually(lambda: closed_by_server(newcomer))
        newcomer.close()
        assert counters.connections_rejected_full == 1
        assert (counters.connections_closed_idle, counters.connections_closed_frame_timeout) == (0, 0)
        assert counters.connections_evicted == 0 and sender.is_alive()
        sink.resume()
        seen = 0
        while seen < lines:
            await sink.wait_for(1, timeout=30)
            for record in sink.take_all():
                assert record.data[:8] == b"%08d" % seen
                seen += 1
        await asyncio.to_thread(sender.join, 30)
    assert not sender.is_alive()
    assert counters.received == lines and counters.dropped == 0
    assert counters.connections_closed_idle == 0 and counters.connections_evicted == 0


async def test_a_sender_streaming_lines_cut_across_reads_is_not_taken_for_an_unfinished_frame() -> None:
    """A sender writing without pause, in pieces that end mid-line (1,001-byte pieces of
    5,000-byte lines: no piece ever ends a line), always leaves the listener holding the
    start of some line; each is finished at once, so the connection outlives many
    `frame_timeout`s and loses nothing."""
    sink = MemorySink(capacity=1_000_000)
    settings = Settings(syslog={"frame_timeout": 0.3, "idle_timeout": 60})
    async with listening(sink, settings) as source:
        port = source.bound_port or 0
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stream = b"".join(b"<13>streamed line %06d %s\n" % (n, b"x" * 4975) for n in range(2_000))
        piece, sent, started = 1001, 0, loop.time()
        while loop.time() - started < 2.0 and sent < len(stream):  # about 7 frame timeouts
            writer.write(stream[sent : sent + piece])
            sent += piece
            await writer.drain()
            await asyncio.sleep(0.001)
        complete = stream.count(b"\n", 0, sent)
        records = await sink.wait_for(complete, timeout=30)
        assert not reader.at_eof()
        writer.close()
    assert source.counters.connections_closed_frame_timeout == 0
    assert [r.data for r in records[:complete]] == stream[: stream.rindex(b"\n", 0, sent)].split(b"\n")
