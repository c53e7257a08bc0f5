"""Syslog over TCP (RFC 6587, octet counting and newline framing, per frame).

One asyncio server; one task per connection reads at most `READ_SIZE` bytes at a time,
cuts them with a `StreamFramer` and awaits `sink.put` for every record. While `put`
waits (the pipeline is full) the task does not read, the stream's bounded buffer fills,
asyncio pauses the socket and the kernel's TCP window closes: the sender blocks, nothing
is lost. Memory per connection is bounded by `max_record_bytes` plus two read buffers.

Slots are governed by a `ConnectionTable` (collect/connections.py): at most
`max_connections` in all and `max_connections_per_address` per address; a connection
silent for `idle_timeout` seconds, or holding an unfinished record for `frame_timeout`
seconds of reading, is closed; when every slot is taken a new connection evicts the one
best lost (never sent a record, longest idle), so idle floods cannot lock senders out.
A connection waiting on the full pipeline is busy: never timed out nor evicted.
`stop()` stops accepting, cuts what each connection had already received (a last
record without its newline is emitted), then closes the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from typing import Any

from guetteur.collect.connections import ConnectionTable, TcpConnection
from guetteur.collect.counters import (
    ERROR_INTERNAL,
    ERROR_IO,
    ERROR_TLS_HANDSHAKE,
    ERROR_TLS_ON_PLAIN,
    ERROR_TLS_TIMEOUT,
    SourceCounters,
)
from guetteur.collect.framing import StreamFramer
from guetteur.collect.peer import format_peer
from guetteur.collect.sink import RecordSink
from guetteur.config import Settings, SyslogSettings
from guetteur.model import PEER_ADDRESS, RawRecord

log = logging.getLogger(__name__)

READ_SIZE = 65_536
LOG_EVERY = 10.0  # seconds between two log lines about failing clients (they are all counted)
TLS_HANDSHAKE_START = b"\x16\x03"  # a TLS record of type handshake, version 3.x
_TRUNCATED = {"truncated": True}  # shared: the pipeline only reads record metadata


class _Connection(asyncio.StreamReaderProtocol):
    """The stream protocol of one connection. With TLS the socket is not read before
    `start_tls` takes it over: a ClientHello read into the plain stream would be lost."""

    def __init__(self, reader: asyncio.StreamReader, serve: Any, *, loop: asyncio.AbstractEventLoop,
                 paused: bool) -> None:
        super().__init__(reader, serve, loop=loop)
        self._paused_at_start = paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._paused_at_start and isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()
        super().connection_made(transport)


class SyslogTcpSource:
    """Receives syslog records over TCP (or TLS when `ssl_context` is given).

    bound_port: the port actually listened on once started (useful with port 0).
    counters:   `SourceCounters` for the health endpoint.
    table:      the `ConnectionTable` that admits, times out and evicts connections.
    """

    name = "syslog-tcp"
    peer_field = PEER_ADDRESS

    def __init__(
        self,
        settings: Settings,
        sink: RecordSink,
        *,
        host: str | None = None,
        port: int | None = None,
        max_connections: int | None = None,
        max_connections_per_address: int | None = None,
        idle_timeout: float | None = None,
        frame_timeout: float | None = None,
        max_record_bytes: int | None = None,
        hint: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        stop_timeout: float = 5.0,
        handshake_timeout: float = 10.0,
    ) -> None:
        """Configured from `settings.syslog` (host, tcp_port, max_connections,
        max_connections_per_address, idle_timeout, frame_timeout) and
        `settings.pipeline.max_record_bytes`; a keyword given here wins over the setting."""
        syslog = settings.syslog
        self.settings: SyslogSettings = syslog
        self.sink = sink
        self.host = syslog.host if host is None else host
        self.port = syslog.tcp_port if port is None else port
        self.max_connections = syslog.max_connections if max_connections is None else max_connections
        self.max_connections_per_address = (
            syslog.max_connections_per_address if max_connections_per_address is None
            else max_connections_per_address
        )
        self.idle_timeout = syslog.idle_timeout if idle_timeout is None else idle_timeout
        self.frame_timeout = syslog.frame_timeout if frame_timeout is None else frame_timeout
        self.max_record_bytes = settings.pipeline.max_record_bytes if max_record_bytes is None else max_record_bytes
        self.hint = hint
        self.ssl_context = ssl_context
        self.stop_timeout = stop_timeout
        self.handshake_timeout = handshake_timeout
        self.counters = SourceCounters(self.name)
        self.table = ConnectionTable(
            self.counters,
            max_connections=self.max_connections,
            max_per_address=self.max_connections_per_address,
            idle_timeout=self.idle_timeout,
            frame_timeout=self.frame_timeout,
        )
        self.bound_port: int | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._connections: dict[asyncio.Task[None], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        self._stopping = False
        self._last_logged = -LOG_EVERY

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        """Always on (port 0 picks a free port)."""
        return True

    def describe(self) -> dict[str, object]:
        return {"syslog_tcp": self.bound_port}

    async def start(self) -> None:
        """Listen. Raises OSError when the address cannot be bound."""
        self._stopping = False
        # limit bounds the stream's buffer: asyncio pauses the socket above twice this size.
        loop = asyncio.get_running_loop()
        paused = self.ssl_context is not None

        def connection() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=READ_SIZE, loop=loop)
            return _Connection(reader, self._serve, loop=loop, paused=paused)

        self._server = await loop.create_server(connection, self.host, self.port, backlog=512)
        self.bound_port = self._server.sockets[0].getsockname()[1]
        self._sweeper = asyncio.create_task(self._sweep(), name="syslog-tcp-timeouts")
        log.info("syslog TCP listening on %s:%s", self.host, self.bound_port)

    async def stop(self) -> None:
        """Stop accepting, emit what every connection had received, close the sockets."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for reader, writer in list(self._connections.values()):
            # No more bytes from the socket; what is buffered is still cut and emitted.
            transport = writer.transport
            if isinstance(transport, asyncio.ReadTransport):
                with contextlib.suppress(Exception):
                    transport.pause_reading()
            reader.feed_eof()
        tasks = list(self._connections)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=self.stop_timeout)
            for task in late:  # stuck on a sink that never drains: give up on them
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), self.stop_timeout)
            self._server = None

    async def _sweep(self) -> None:
        """Close, every `sweep_interval`, the connections idle or holding a frame too long."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.table.sweep_interval)
            try:
                self.table.sweep(loop.time())
            except Exception:  # a timeout left unenforced must not stop the next sweeps
                log.exception("syslog TCP: closing idle connections failed")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counters = self.counters
        if self._stopping:
            counters.connections_rejected += 1
            writer.transport.abort()
            return
        peername = writer.get_extra_info("peername")
        address = peername[0] if isinstance(peername, tuple) else str(peername)
        tls = self.ssl_context is not None
        handshake: asyncio.Task[None] | None = None

        def close() -> None:
            if handshake is not None and not handshake.done():
                # Cancelled, start_tls closes the socket itself; a transport closed under it
                # leaves the writer without one (Python 3.11).
                handshake.cancel()
            elif tls:
                # A TLS close would wait up to 30 s for the peer's close_notify.
                writer.transport.abort()
            else:
                writer.transport.close()  # a FIN (what rsyslog looks for), descriptor freed at once

        task = asyncio.current_task()
        if task is None:  # asyncio runs every connection callback as a task
            raise RuntimeError("syslog TCP connection served outside a task")
        connection = self.table.admit(address, close, asyncio.get_running_loop().time())
        if connection is None:
            writer.transport.abort()
            return
        self._connections[task] = (reader, writer)
        counters.connections += 1
        counters.connections_open += 1
        try:
            if self.ssl_context is not None:
                # TLS starts here rather than in the server so that a failed handshake is
                # seen and counted, and handshakes count against the connection limits.
                handshake = asyncio.ensure_future(
                    writer.start_tls(self.ssl_context, ssl_handshake_timeout=self.handshake_timeout)
                )
                started = asyncio.get_running_loop().time()
                try:
                    await handshake
                except asyncio.CancelledError:
                    if task.cancelling() or connection.closing is None:
                        raise
                    return  # evicted or timed out before its handshake ended
                except (ConnectionError, OSError, ssl.SSLError) as exc:
                    if connection.closing is None:
                        took = asyncio.get_running_loop().time() - started
                        self._handshake_failed(peername, exc, took >= self.handshake_timeout)
                    return
            await self._read(reader, format_peer(peername), connection)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if connection.closing is not None:  # our own close (idle, evicted...): no error
                log.debug("syslog TCP connection closed (%s): %r", connection.closing, exc)
            elif isinstance(exc, (ConnectionError, OSError, ssl.SSLError)):
                counters.error(ERROR_IO)
                log.debug("syslog TCP connection error: %s", exc)
            else:  # e.g. the pipeline refusing records while it shuts down
                counters.error(ERROR_INTERNAL)
                log.exception("syslog TCP connection ended by an error")
        finally:
            counters.connections_open -= 1
            del self._connections[task]
            self.table.release(connection)
            if connection.closing is not None:
                pass  # closed already
            elif self._stopping:
                writer.transport.abort()
            else:
                writer.close()

    def _handshake_failed(self, peername: Any, exc: BaseException, timed_out: bool) -> None:
        """Count a failed TLS handshake; log it, at most one line per `LOG_EVERY` seconds."""
        self.counters.error(ERROR_TLS_TIMEOUT if timed_out else ERROR_TLS_HANDSHAKE)
        now = time.monotonic()
        if now - self._last_logged >= LOG_EVERY:
            self._last_logged = now
            log.warning("%s: TLS handshake with %s %s: %s (counted in errors_by_type; further failures within "
                        "%ss are only counted)", self.name, format_peer(peername),
                        "timed out" if timed_out else "failed", exc, LOG_EVERY)

    async def _read(self, reader: asyncio.StreamReader, peer: str | None, connection: TcpConnection) -> None:
        framer = StreamFramer(self.max_record_bytes)
        clock = asyncio.get_running_loop().time
        table = self.table
        put = self.sink.put
        # The pipeline takes a chunk's records in bulk (one call per chunk rather than an
        # await per record); any other sink gets them one by one.
        offer_upto = getattr(self.sink, "offer_upto", None)
        wait_for_space = getattr(self.sink, "wait_for_space", None)
        counters = self.counters
        hint = self.hint
        source = self.name
        datas: list[bytes] = []  # the current chunk's records
        cut_at: list[int] = []  # the indices of those cut at max_record_bytes
        done = 0  # records of the current chunk already handed over
        first = self.ssl_context is None  # a plain listener checks the first bytes for a TLS hello
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                if first:
                    first = False
                    if data[:2] == TLS_HANDSHAKE_START:  # no syslog record starts with 0x16
                        self._tls_on_plain_port(peer)
                        return
                datas, cut_at = framer.feed_frames(data)
                done = 0
                table.received(connection, clock(), len(datas), framer.pending_bytes)
                if not datas:
                    continue
                now = time.time()
                if offer_upto is not None and wait_for_space is not None:
                    # One step per chunk, not per record, except building the records: the
                    # bytes are summed in C and cut records are rare.
                    records = [RawRecord(record, now, source, hint, peer) for record in datas]
                    for i in cut_at:
                        records[i].meta = _TRUNCATED
                    while True:
                        end = offer_upto(records, done)
                        counters.received += end - done
                        counters.bytes += sum(map(len, datas[done:end] if done or end < len(datas) else datas))
                        if cut_at:
                            counters.truncated += sum(1 for i in cut_at if done <= i < end)
                        done = end
                        if done == len(records):
                            break
                        table.wait(connection, clock())
                        await wait_for_space()
                    table.resume(connection, clock())
                    continue
                table.wait(connection, clock())  # `put` may wait: busy, not idle, meanwhile
                for i, record in enumerate(datas):
                    cut = i in cut_at
                    await put(RawRecord(record, now, source, hint, peer, {"truncated": True} if cut else None))
                    done += 1
                    counters.received += 1
                    counters.bytes += len(record)
                    counters.truncated += cut
                table.resume(connection, clock())
        except asyncio.CancelledError:
            # Stopped while the sink stayed full: hand over what fits without waiting,
            # count the rest as dropped.
            cut_set = set(cut_at)
            left = [(record, i in cut_set) for i, record in enumerate(datas) if i >= done]
            for record, cut_now in left + framer.close():
                if self.sink.offer(RawRecord(record, time.time(), source, hint, peer,
                                             {"truncated": True} if cut_now else None)):
                    counters.received += 1
                    counters.bytes += len(record)
                    counters.truncated += cut_now
                else:
                    counters.dropped += 1
            raise
        except BaseException:
            table.wait(connection, clock())
            await self._flush(framer, peer)
            raise
        table.wait(connection, clock())  # the stream has ended: only the sink can hold it now
        await self._flush(framer, peer)

    def _tls_on_plain_port(self, peer: str | None) -> None:
        self.counters.error(ERROR_TLS_ON_PLAIN)
        now = time.monotonic()
        if now - self._last_logged >= LOG_EVERY:
            self._last_logged = now
            log.warning("%s: %s opened TLS on this plain port: closed (syslog over TLS listens on syslog.tls_port)",
                        self.name, peer)

    async def _flush(self, framer: StreamFramer, peer: str | None) -> None:
        """Emit what the stream left: a last record without newline, a short octet frame."""
        counters = self.counters
        for record, cut in framer.close():
            await self.sink.put(
                RawRecord(record, time.time(), self.name, self.hint, peer, {"truncated": True} if cut else None)
            )
            counters.received += 1
            counters.bytes += len(record)
            counters.truncated += cut
