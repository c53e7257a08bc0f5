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
its transport (its reader then sees the end of the stream), and the listener reports what
happens on it (`received`, `wait`, `resume`). Connections not waiting are kept in two
queues ordered by last activity (never sent a record / sent one), so choosing whom to
evict and finding the idle ones costs O(1) per connection concerned, not a scan: a flood
of new connections must not make each of them cost a pass over the thousand held. The
event loop is the only thread, so no lock is needed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from guetteur.collect.counters import SourceCounters

# Why the listener closed a connection itself (`TcpConnection.closing`).
IDLE = "idle"
FRAME_TIMEOUT = "frame_timeout"
EVICTED = "evicted"


@dataclass(slots=True, eq=False)
class TcpConnection:
    """One admitted connection, as the table sees it. Times are the event loop's monotonic
    clock; the table updates every field (through `ConnectionTable.received` and friends).

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
        # Live connections not waiting on the sink, least recently active first.
        self._silent: OrderedDict[TcpConnection, None] = OrderedDict()  # no record yet
        self._sent: OrderedDict[TcpConnection, None] = OrderedDict()  # at least one record

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
            # The longest idle that never completed a record, else the longest idle.
            victim = next(iter(self._silent), None) or next(iter(self._sent), None)
            if victim is None:  # every connection waits on the sink
                counters.connections_rejected += 1
                counters.connections_rejected_full += 1
                return None
            self._close(victim, EVICTED)
            counters.connections_evicted += 1
        connection = TcpConnection(address, close, now)
        self._live.add(connection)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self._silent[connection] = None
        return connection

    def received(self, connection: TcpConnection, now: float, records: int, pending_bytes: int) -> None:
        """Bytes arrived on `connection`: `records` were completed and `pending_bytes`
        remain of an unfinished one."""
        connection.last_active = now
        if records:
            if not connection.records:
                self._silent.pop(connection, None)
            connection.records += records
            # Records come out in order, so the frame held before (if any) was the first
            # of them: what is pending now is a new frame, started in these bytes.
            connection.partial_since = now if pending_bytes else None
        elif not pending_bytes:
            connection.partial_since = None
        elif connection.partial_since is None:
            connection.partial_since = now
        if connection.closing is None and connection.waiting_since is None:
            queue = self._sent if connection.records else self._silent
            queue[connection] = None
            queue.move_to_end(connection)

    def wait(self, connection: TcpConnection, now: float) -> None:
        """The sink is full: `connection` is not read until `resume` (busy, not idle)."""
        if connection.waiting_since is None:
            connection.waiting_since = now
            self._unqueue(connection)

    def resume(self, connection: TcpConnection, now: float) -> None:
        """The sink took the records: the idle clock restarts, and the wait does not count
        against an unfinished frame."""
        if connection.waiting_since is None:
            return
        if connection.partial_since is not None:
            connection.partial_since += now - connection.waiting_since
        connection.waiting_since = None
        connection.last_active = now
        if connection.closing is None:
            (self._sent if connection.records else self._silent)[connection] = None

    def release(self, connection: TcpConnection) -> None:
        """The connection's task ended: its slot is free (if it was not freed already)."""
        if connection in self._live:
            self._forget(connection)

    def sweep(self, now: float) -> int:
        """Close the connections idle for `idle_timeout` or holding an unfinished frame for
        `frame_timeout`; how many were closed."""
        idle_before = now - self.idle_timeout
        frame_before = now - self.frame_timeout
        idle: list[TcpConnection] = []
        for queue in (self._silent, self._sent):
            for connection in queue:  # least recently active first: stop at the first active
                if connection.last_active > idle_before:
                    break
                idle.append(connection)
        for connection in idle:
            self._close(connection, IDLE)
        stalled = [
            connection
            for queue in (self._silent, self._sent)
            for connection in queue
            if connection.partial_since is not None and connection.partial_since <= frame_before
        ]
        for connection in stalled:
            self._close(connection, FRAME_TIMEOUT)
        self.counters.connections_closed_idle += len(idle)
        self.counters.connections_closed_frame_timeout += len(stalled)
        return len(idle) + len(stalled)

    def _close(self, connection: TcpConnection, reason: str) -> None:
        connection.closing = reason
        self._forget(connection)
        connection.close()

    def _unqueue(self, connection: TcpConnection) -> None:
        self._silent.pop(connection, None)
        self._sent.pop(connection, None)

    def _forget(self, connection: TcpConnection) -> None:
        self._live.discard(connection)
        self._unqueue(connection)
        left = self._per_address[connection.address] - 1
        if left:
            self._per_address[connection.address] = left
        else:
            del self._per_address[connection.address]
