"""SyslogTcpSource over real sockets: framing, limits, hostile input, floods, backpressure."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from tests.collect.tcp_helpers import (
    blocking_sender,
    closed_by_server,
    connect_from,
    eventually,
    listening,
    loopback,
)

from guetteur.collect.sink import MemorySink
from guetteur.collect.syslog_tcp import SyslogTcpSource
from guetteur.config import Settings
from guetteur.model import RawRecord

MIB = 1_048_576


async def send(port: int, payload: bytes) -> None:
    """Connect, send, close (half-close first so the server sees a clean end of stream)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_newline_framing_crlf_and_last_line_without_newline() -> None:
    sink = MemorySink()
    async with listening(sink) as source:
        assert source.bound_port
        await send(source.bound_port, b"<13>one\n<13>two\r\n\n<13>three")
        records = await sink.wait_for(3)
    assert [r.data for r in records] == [b"<13>one", b"<13>two", b"<13>three"]
    assert {r.source for r in records} == {"syslog-tcp"}
    assert all(r.peer and r.peer.startswith("127.0.0.1:") for r in records)
    assert all(r.meta is None for r in records)
    assert source.counters.received == 3 and source.counters.connections == 1


async def test_octet_counting_and_mixed_frames_on_one_connection() -> None:
    sink = MemorySink()
    message = b"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - multi\nline"
    payload = str(len(message)).encode() + b" " + message + b"<13>newline framed\n" + b"5 short"
    async with listening(sink) as source:
        await send(source.bound_port or 0, payload)
        records = await sink.wait_for(3)
    assert [r.data for r in records] == [message, b"<13>newline framed", b"short"]


async def test_two_megabyte_line_is_cut_and_the_listener_keeps_serving() -> None:
    sink = MemorySink()
    limit = Settings().pipeline.max_record_bytes
    async with listening(sink, max_record_bytes=limit) as source:
        await send(source.bound_port or 0, b"<13>" + b"A" * (2 * MIB) + b"\n<13>next line\n")
        await sink.wait_for(2)
        await send(source.bound_port or 0, b"<13>second connection\n")
        records = await sink.wait_for(3)
    big = records[0]
    assert len(big.data) == limit and big.meta == {"truncated": True}
    assert [r.data for r in records[1:]] == [b"<13>next line", b"<13>second connection"]
    assert source.counters.truncated == 1


async def test_octet_frame_announcing_a_huge_length() -> None:
    sink = MemorySink()
    async with listening(sink, max_record_bytes=1024) as source:
        body = b"z" * 5000
        await send(source.bound_port or 0, b"5000 " + body + b"3 end")
        await sink.wait_for(2)
        await send(source.bound_port or 0, b"99999999999999999999 not a length\n")
        records = await sink.wait_for(3)
    assert records[0].data == body[:1024] and records[0].meta == {"truncated": True}
    assert records[1].data == b"end"
    assert records[2].data == b"99999999999999999999 not a length"  # too many digits: a line


async def test_truncated_octet_frame_at_connection_close() -> None:
    sink = MemorySink()
    async with listening(sink) as source:
        await send(source.bound_port or 0, b"100 only part of it")
        records = await sink.wait_for(1)
    assert records[0].data == b"only part of it" and records[0].meta == {"truncated": True}
    assert source.counters.truncated == 1


async def test_binary_garbage_and_invalid_utf8_are_kept_byte_for_byte() -> None:
    sink = MemorySink()
    garbage = os.urandom(4096).replace(b"\n", b"").lstrip(b"123456789").rstrip(b"\r")
    async with listening(sink) as source:
        await send(source.bound_port or 0, b"\xff\xfe\xc3\x28 bad utf-8\n" + garbage + b"\n\x00\x00\x00\n")
        records = await sink.wait_for(3)
    assert records[0].data == b"\xff\xfe\xc3\x28 bad utf-8"
    assert "\ufffd" in records[0].text()
    assert records[1].data == garbage
    assert records[2].data == b"\x00\x00\x00"


async def test_a_full_listener_evicts_silent_connections_before_those_that_sent() -> None:
    """With every slot taken, a newcomer gets in by evicting a connection that never sent a
    record (the longest idle of them), even if one that sent has been idle longer; once all
    have sent, the longest idle is evicted. Every line sent before an eviction is received."""
    sink = MemorySink()
    async with listening(sink, max_connections=3) as source:
        port = source.bound_port or 0
        loop = asyncio.get_running_loop()
        talker = await connect_from("127.0.0.2", port)
        await loop.sock_sendall(talker, b"<13>talker\n")
        await sink.wait_for(1)
        silent = [await connect_from("127.0.0.3", port), await connect_from("127.0.0.4", port)]
        await eventually(lambda: source.counters.connections_open == 3)
        newcomers = []
        for i, silent_one in enumerate(silent):
            newcomer = await connect_from(loopback(10 + i), port)
            await loop.sock_sendall(newcomer, b"<13>newcomer %d\n" % i)
            await sink.wait_for(2 + i)
            await eventually(lambda s=silent_one: closed_by_server(s))  # type: ignore[misc]
            assert not closed_by_server(talker)
            newcomers.append(newcomer)
        # Now all three have sent; the talker is the longest idle.
        last = await connect_from("127.0.0.20", port)
        await loop.sock_sendall(last, b"<13>last\n")
        records = await sink.wait_for(4)
        await eventually(lambda: closed_by_server(talker))
        assert not any(closed_by_server(s) for s in newcomers)
        assert source.counters.connections_evicted == 3
        assert source.counters.connections_rejected == 0
        assert source.counters.connections_open == 3
        for sock in [talker, last, *silent, *newcomers]:
            sock.close()
    assert [r.data for r in records] == [b"<13>talker", b"<13>newcomer 0", b"<13>newcomer 1", b"<13>last"]


async def test_backpressure_pauses_reading_and_loses_nothing() -> None:
    """A full sink makes `put` wait; the source then stops reading, the kernel buffers fill
    and the sender blocks. Once the sink drains every line arrives, once, in order."""
    sink = MemorySink(capacity=10)
    sink.pause()
    line_size, lines = 1000, 80_000  # 80 MB: far more than every buffer on the way
    progress = [0]
    async with listening(sink) as source:
        sender = threading.Thread(
            target=blocking_sender, args=(source.bound_port, lines, line_size, progress), daemon=True
        )
        sender.start()
        # Wait until the sender makes no progress any more: it is blocked in sendall.
        last = -1
        while progress[0] != last:
            last = progress[0]
            await asyncio.sleep(0.5)
        assert sink.put_waits >= 1
        assert len(sink) == 0
        print(f"sender blocked after {progress[0]:,} of {lines * line_size:,} bytes")
        assert progress[0] < lines * line_size, "the sender was never blocked: the source read ahead"
        assert sender.is_alive()
        sink.resume()
        seen = 0
        while seen < lines:
            await sink.wait_for(1, timeout=30)
            for record in sink.take_all():
                assert record.data[:8] == b"%08d" % seen
                assert len(record.data) == line_size - 1
                seen += 1
        await asyncio.to_thread(sender.join, 30)
    assert not sender.is_alive()
    assert source.counters.received == lines and source.counters.dropped == 0


async def test_stop_emits_the_partial_record_and_closes_the_socket() -> None:
    sink = MemorySink()
    source = SyslogTcpSource(Settings(), sink, host="127.0.0.1", port=0)
    await source.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", source.bound_port or 0)
    writer.write(b"<13>complete\n<13>partial without newline")
    await writer.drain()
    await sink.wait_for(1)
    await source.stop()
    records = sink.take_all()
    assert [r.data for r in records] == [b"<13>complete", b"<13>partial without newline"]
    try:
        assert await asyncio.wait_for(reader.read(), 10) == b""
    except ConnectionResetError:
        pass
    writer.close()
    assert source.counters.connections_open == 0


async def test_stop_gives_up_on_a_sink_that_never_drains() -> None:
    sink = MemorySink(capacity=1)
    sink.pause()
    source = SyslogTcpSource(Settings(), sink, host="127.0.0.1", port=0, stop_timeout=0.2)
    await source.start()
    _reader, writer = await asyncio.open_connection("127.0.0.1", source.bound_port or 0)
    writer.write(b"<13>a\n<13>b\n<13>c")
    await writer.drain()
    await eventually(lambda: sink.put_waits >= 1)
    await source.stop()  # returns although `put` never completes
    writer.close()
    assert source.counters.dropped == 3  # a, b and the partial c: counted, not silently lost
    assert source.counters.connections_open == 0


class StuckPutSink(MemorySink):
    """A sink whose `put` never returns, while `offer` takes records."""

    async def put(self, record: RawRecord) -> None:
        self.put_waits += 1
        await asyncio.Event().wait()


async def test_stop_hands_over_a_cut_record_left_waiting_and_counts_it_truncated() -> None:
    """Stopped while `put` waits: the records not handed over yet are offered, a record cut at
    max_record_bytes among them keeps its mark and its count."""
    sink = StuckPutSink()
    source = SyslogTcpSource(Settings(), sink, host="127.0.0.1", port=0, max_record_bytes=16, stop_timeout=0.2)
    await source.start()
    _reader, writer = await asyncio.open_connection("127.0.0.1", source.bound_port or 0)
    writer.write(b"<13>" + b"x" * 40 + b"\n<13>b\n")
    await writer.drain()
    await eventually(lambda: sink.put_waits >= 1)
    await source.stop()
    writer.close()
    records = sink.take_all()
    assert [(len(r.data), r.meta) for r in records] == [(16, {"truncated": True}), (5, None)]
    assert (source.counters.received, source.counters.truncated, source.counters.dropped) == (2, 1, 0)


async def test_start_fails_on_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        source = SyslogTcpSource(Settings(), MemorySink(), host="127.0.0.1", port=busy.getsockname()[1])
        with pytest.raises(OSError):
            await source.start()


def test_settings_configure_the_source_and_keywords_override_them() -> None:
    settings = Settings(syslog={"tcp_port": 0, "max_connections": 7}, pipeline={"max_record_bytes": 4096})
    source = SyslogTcpSource(settings, MemorySink())
    assert (source.port, source.max_connections, source.max_record_bytes) == (0, 7, 4096)
    assert SyslogTcpSource(settings, MemorySink(), max_connections=2).max_connections == 2
    assert source.counters.as_dict()["source"] == "syslog-tcp"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1, made with the openssl tool."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl tool absent")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


async def test_tls_listener_frames_like_tcp_and_survives_a_plaintext_client(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    sink = MemorySink()
    async with listening(sink, ssl_context=server_context) as source:
        port = source.bound_port or 0
        # A client speaking plain text to the TLS port: an error, no record, no harm.
        await send(port, b"<13>not encrypted\n")
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        writer.write(b"9 <13>hello<13>over tls\n")
        await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
        records = await sink.wait_for(2)
        await eventually(lambda: source.counters.errors >= 1)
    assert [r.data for r in records] == [b"<13>hello", b"<13>over tls"]


async def test_a_silent_socket_stuck_before_its_tls_handshake_is_evicted_for_a_tls_sender(
        tls_files: tuple[Path, Path]) -> None:
    """On a TLS listener with one slot, a socket that never sends its ClientHello holds the
    slot in the handshake; a TLS sender still gets in (the silent one is evicted, and that
    is not counted as an error) and its line is received."""
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    sink = MemorySink()
    async with listening(sink, ssl_context=server_context, max_connections=1) as source:
        port = source.bound_port or 0
        silent = await connect_from("127.0.0.2", port)
        await eventually(lambda: source.counters.connections_open == 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        writer.write(b"<13>over tls despite a silent socket\n")
        await writer.drain()
        records = await sink.wait_for(1)
        await eventually(lambda: closed_by_server(silent))
        silent.close()
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    assert records[0].data == b"<13>over tls despite a silent socket"
    assert source.counters.connections_evicted == 1 and source.counters.errors == 0


async def test_ipv6_peer_is_bracketed() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    sink = MemorySink()
    try:
        source = SyslogTcpSource(Settings(), sink, host="::1", port=0)
        await source.start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        reader, writer = await asyncio.open_connection("::1", source.bound_port or 0)
        writer.write(b"<13>v6\n")
        await writer.drain()
        writer.close()
        records = await sink.wait_for(1)
    finally:
        await source.stop()
    assert records[0].peer and records[0].peer.startswith("[::1]:")
