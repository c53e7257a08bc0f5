"""Syslog over UDP (RFC 5426): one datagram is one record.

A datagram socket cannot push back on its senders, so records are `offer`ed to the
sink and a refusal (pipeline full) is counted in `counters.dropped`. Datagrams longer
than `max_record_bytes` are cut and tagged truncated; a trailing LF, CRLF or NUL that
some senders add is removed; empty datagrams are ignored. The socket's receive buffer
is enlarged (`receive_buffer` bytes, as far as the kernel allows) to absorb bursts.

The socket is read directly (`loop.add_reader`), up to `BURST` datagrams per wake-up:
asyncio's datagram transport reads one datagram per event-loop turn, which caps a
source near 40,000 datagrams/s and lets the kernel drop the rest of a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from guetteur.collect.counters import ERROR_IO, SourceCounters
from guetteur.collect.peer import format_peer
from guetteur.collect.sink import RecordSink
from guetteur.config import Settings, SyslogSettings
from guetteur.model import PEER_ADDRESS, RawRecord

log = logging.getLogger(__name__)

BURST = 512  # datagrams read per wake-up before other tasks get a turn
_MAX_DATAGRAM = 65_535


class SyslogUdpSource:
    """Receives syslog records over UDP.

    bound_port: the port actually listened on once started (useful with port 0).
    counters:   `SourceCounters` for the health endpoint (`dropped` = refused by the sink).
    """

    name = "syslog-udp"
    peer_field = PEER_ADDRESS

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
        self.settings: SyslogSettings = settings.syslog
        self.host = settings.syslog.host if host is None else host
        self.port = settings.syslog.udp_port if port is None else port
        self.max_record_bytes = settings.pipeline.max_record_bytes if max_record_bytes is None else max_record_bytes
        self.hint = hint
        self.receive_buffer = receive_buffer
        self.counters = SourceCounters(self.name)
        self.bound_port: int | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peers: dict[Any, str | None] = {}  # formatted addresses, reused per sender

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        """Always on (port 0 picks a free port)."""
        return True

    def describe(self) -> dict[str, object]:
        return {"syslog_udp": self.bound_port}

    async def start(self) -> None:
        """Bind the socket. Raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
        family, _type, proto, _name, address = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        try:
            with contextlib.suppress(OSError):  # the kernel caps it at net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            sock.bind(address)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._sock, self._loop = sock, loop
        self.bound_port = sock.getsockname()[1]
        loop.add_reader(sock.fileno(), self._read_ready)
        log.info("syslog UDP listening on %s:%s", self.host, self.bound_port)

    async def stop(self) -> None:
        """Close the socket. Datagrams already handed over are the sink's; nothing is pending here."""
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
        self._sock = self._loop = None
        self._peers.clear()

    def _read_ready(self) -> None:
        sock = self._sock
        if sock is None:
            return
        recvfrom = sock.recvfrom
        received = self._received
        for _ in range(BURST):
            try:
                data, addr = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error reported on the socket
                self.counters.error(ERROR_IO)
                log.debug("syslog UDP error: %s", exc)
                return
            received(data, addr)

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
