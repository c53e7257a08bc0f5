"""Who may hold a TCP slot: the connection table of a stream listener.

A slot is a file descriptor and up to `max_record_bytes` of memory, so slots are
bounded (`max_connections` in all, `max_connections_per_address` per remote address)
and a slot is taken back from whoever does not use it:

* **idle**: a connection that sent nothing for `idle_timeout` seconds is closed;
* **unfinished frame**: a connection that has held an unfinished record (a line without
  its newline, an octet-counted frame not complete) for `frame_timeout` seconds of
  reading is closed; its partial record is emitted as at end of stream;
* **eviction**: when every slot is taken, a new connection is let in by closing the
  connection that is the best to lose: first those that never completed a record (an
  idle or trickling flood), then those that did, the longest idle first in both groups.
  A flood of silent sockets, from however many addresses, can therefore never keep out
  a sender that sends, nor cut one that has started sending while a silent one is left.

A connection waiting on the sink (backpressure: the pipeline is full, so the listener
stops reading it) is busy, not idle: it is neither timed out nor evicted, and time spent
waiting does not count against its unfinished frame. When every slot is busy a new
connection is refused.

The table does no I/O itself: each connection comes with a `close` callable that closes
its transport (its reader then sees the end of the stream). The event loop is the only
thread, so no lock is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from guetteur.collect.counters import SourceCounters

# Why the listener closed a connection itself (`TcpConnection.closing`).
IDLE = "idle"
FRAME_TIMEOUT = "frame_timeout"
EVICTED = "evicted"


@dataclass(slots=True, eq=False)
class TcpConnection:
    """One admitted connection. Times are the event loop's monotonic clock.

    last_active:   when it was accepted, last delivered bytes, or last stopped waiting.
    records:       complete records received (0: never sent one, evicted first).
    waiting_since: set while its task waits on the sink (backpressure): busy, not idle.
    partial_since: set while the framer holds an unfinished record; reading time only.
    closing:       why the listener closed it (IDLE, FRAME_TIMEOUT, EVICTED), or None.
    """

    address: str
    close: Callable[[], None] = field(repr=False)
    last_active: float
    records: int = 0
    waiting_since: float | None = None
    partial_since: float | None = None
    closing: str | None = None

    def received(self, now: float, records: int, pending_bytes: int) -> None:
        """Bytes arrived: `records` were completed and `pending_bytes` remain unfinished."""
        self.last_active = now
        if records:
            # Records come out in order, so the frame held before (if any) was the first
            # of them: what is pending now is a new frame, started in these bytes.
            self.records += records
            self.partial_since = now if pending_bytes else None
        elif not pending_bytes:
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since = now

    def wait(self, now: float) -> None:
        """The sink is full: the connection is not read until `resume`."""
        if self.waiting_since is None:
            self.waiting_since = now

    def resume(self, now: float) -> None:
        """The sink took the records: the idle clock restarts and the wait does not count
        against an unfinished frame."""
        if self.waiting_since is None:
            return
        if self.partial_since is not None:
            self.partial_since += now - self.waiting_since
        self.waiting_since = None
        self.last_active = now


class ConnectionTable:
    """Admits, times out and evicts the connections of one listener; counts each outcome
    in `counters` (`connections_rejected*`, `connections_evicted`, `connections_closed_*`)."""

    def __init__(
        self,
        counters: SourceCounters,
        *,
        max_connections: int,
        max_per_address: int,
        idle_timeout: float,
        frame_timeout: float,
    ) -> None:
        if min(max_connections, max_per_address) < 1 or min(idle_timeout, frame_timeout) <= 0:
            raise ValueError("connection limits and timeouts must be positive")
        self.counters = counters
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self._live: set[TcpConnection] = set()  # admitted and not being closed by us
        self._per_address: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[TcpConnection]:
        return iter(self._live)

    @property
    def sweep_interval(self) -> float:
        """How often `sweep` should run: a timeout is acted on at most this late."""
        return min(max(min(self.idle_timeout, self.frame_timeout) / 4, 0.05), 1.0)

    def admit(self, address: str, close: Callable[[], None], now: float) -> TcpConnection | None:
        """A connection from `address` was accepted: its entry, or None when it must be
        refused (its address holds its quota, or every slot is busy). May evict another."""
        counters = self.counters
        if self._per_address.get(address, 0) >= self.max_per_address:
            counters.connections_rejected += 1
            counters.connections_rejected_per_address += 1
            return None
        if len(self._live) >= self.max_connections:
            victim = self._eviction_victim()
            if victim is None:
                counters.connections_rejected += 1
                counters.connections_rejected_full += 1
                return None
            self._close(victim, EVICTED)
            counters.connections_evicted += 1
        connection = TcpConnection(address, close, now)
        self._live.add(connection)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        return connection

    def release(self, connection: TcpConnection) -> None:
        """The connection's task ended: its slot is free (if it was not freed already)."""
        if connection in self._live:
            self._forget(connection)

    def sweep(self, now: float) -> int:
        """Close the connections idle for `idle_timeout` or holding an unfinished frame for
        `frame_timeout`; how many were closed."""
        idle_before = now - self.idle_timeout
        frame_before = now - self.frame_timeout
        expired: list[tuple[TcpConnection, str]] = []
        for connection in self._live:
            if connection.waiting_since is not None:
                continue
            if connection.last_active <= idle_before:
                expired.append((connection, IDLE))
            elif connection.partial_since is not None and connection.partial_since <= frame_before:
                expired.append((connection, FRAME_TIMEOUT))
        for connection, reason in expired:
            self._close(connection, reason)
            if reason == IDLE:
                self.counters.connections_closed_idle += 1
            else:
                self.counters.connections_closed_frame_timeout += 1
        return len(expired)

    def _eviction_victim(self) -> TcpConnection | None:
        """The connection not waiting on the sink that never completed a record and is
        idle longest; failing that, the one idle longest. None when all are waiting."""
        best: TcpConnection | None = None
        best_key = (True, 0.0)
        for connection in self._live:
            if connection.waiting_since is not None:
                continue
            key = (connection.records > 0, connection.last_active)
            if best is None or key < best_key:
                best, best_key = connection, key
        return best

    def _close(self, connection: TcpConnection, reason: str) -> None:
        connection.closing = reason
        self._forget(connection)
        connection.close()

    def _forget(self, connection: TcpConnection) -> None:
        self._live.discard(connection)
        left = self._per_address[connection.address] - 1
        if left:
            self._per_address[connection.address] = left
        else:
            del self._per_address[connection.address]
