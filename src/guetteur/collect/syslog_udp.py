"""Syslog over UDP (RFC 5426): one datagram is one record.

A datagram socket cannot push back on its senders, so records are `offer`ed to the
sink and a refusal (pipeline full) is counted in `counters.dropped`. Datagrams longer
than `max_record_bytes` are cut and tagged truncated; a trailing LF, CRLF or NUL that
some senders add is removed; empty datagrams are ignored. The socket's receive buffer
is enlarged (`receive_buffer` bytes, as far as the kernel allows) to absorb bursts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from guetteur.collect.counters import SourceCounters
from guetteur.collect.peer import format_peer
from guetteur.collect.sink import RecordSink
from guetteur.config import Settings
from guetteur.model import RawRecord

log = logging.getLogger(__name__)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, source: SyslogUdpSource) -> None:
        self.source = source
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.source._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.source.counters.errors += 1
        log.debug("syslog UDP error: %s", exc)


class SyslogUdpSource:
    """Receives syslog records over UDP.

    bound_port: the port actually listened on once started (useful with port 0).
    counters:   `SourceCounters` for the health endpoint (`dropped` = refused by the sink).
    """

    name = "syslog-udp"

    def __init__(
        self,
        settings: Settings,
        sink: RecordSink,
        *,
        host: str | None = None,
        port: int | None = None,
        max_record_bytes: int | None = None,
        hint: str | None = None,
        receive_buffer: int = 8 * 1024 * 1024,
    ) -> None:
        """Configured from `settings.syslog` (host, udp_port) and
        `settings.pipeline.max_record_bytes`; a keyword given here wins over the setting."""
        self.sink = sink
        self.host = settings.syslog.host if host is None else host
        self.port = settings.syslog.udp_port if port is None else port
        self.max_record_bytes = settings.pipeline.max_record_bytes if max_record_bytes is None else max_record_bytes
        self.hint = hint
        self.receive_buffer = receive_buffer
        self.counters = SourceCounters(self.name)
        self.bound_port: int | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Protocol | None = None
        self._peers: dict[Any, str | None] = {}  # formatted addresses, reused per sender

    async def start(self) -> None:
        """Bind the socket. Raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self._protocol = protocol
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the kernel caps it at net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            self.bound_port = sock.getsockname()[1]
        log.info("syslog UDP listening on %s:%s", self.host, self.bound_port)

    async def stop(self) -> None:
        """Close the socket. Datagrams already handed over are the sink's; nothing is pending here."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._protocol is not None:
            await self._protocol.closed  # the socket is released once this is done
            self._protocol = None
        self._peers.clear()

    def _received(self, data: bytes, addr: Any) -> None:
        counters = self.counters
        cut = len(data) > self.max_record_bytes
        if cut:
            data = data[: self.max_record_bytes]
        else:
            data = data.rstrip(b"\r\n\x00")
            if not data:
                return
        peer = self._peers.get(addr)
        if peer is None:
            if len(self._peers) > 10_000:  # spoofed sources must not grow this without bound
                self._peers.clear()
            peer = self._peers[addr] = format_peer(addr)
        record = RawRecord(data, time.time(), self.name, self.hint, peer, {"truncated": True} if cut else None)
        if self.sink.offer(record):
            counters.received += 1
            counters.bytes += len(data)
            counters.truncated += cut
        else:
            counters.dropped += 1
