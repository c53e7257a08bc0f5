"""HTTP connections of the API: a deadline for request heads and a cap on open connections.

uvicorn's h11 protocol holds a connection for as long as its client trickles a request line
and headers (slowloris: thousands of connections sending a byte every few seconds), and has
no connection cap besides `limit_concurrency`, which answers 503 only to requests that are
complete. `guarded_h11_protocol` makes its subclass, installed with `uvicorn.Config(http=...)`:

- a timer starts when the connection opens and after each response, and is cancelled when a
  request's line and headers are complete; when it fires, the connection is closed. Data
  arriving does not restart it. The same deadline bounds the draining of a body the server
  already answered (a 413 at the record cap): the client has that long to read the answer.
- past `max_connections` open connections, the connection that has waited longest for its
  request's head is closed to make room (a flood of trickling peers evicts itself, while a
  client that sends its request at once is never the one waiting longest); when no
  connection is waiting for a head, the new one is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

_WARNING_INTERVAL = 10
_last_refusal_warning = [0.0]  # a flood of refusals is logged once per interval, not once each


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a request-head deadline and a connection cap."""

    header_timeout: float = 10.0
    max_connections: int = 1000

    _head_timer: asyncio.TimerHandle | None = None
    _waiting_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._over_cap() and not self._make_room():
            self._refused(transport)
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._head_arrived()

    def on_response_complete(self) -> None:
        # Armed first: a pipelined request that the parent starts right away cancels it.
        self._await_head()
        super().on_response_complete()

    def _await_head(self) -> None:
        self._head_arrived()
        self._waiting_since = time.monotonic()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _head_arrived(self) -> None:
        self._waiting_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._waiting_since = None
        if not self.transport.is_closing():
            log.debug("HTTP connection from %s closed: no complete request head within %g s",
                      self.client, self.header_timeout)
            self.transport.close()

    def _over_cap(self) -> bool:
        # Connections closed a moment ago stay in the set until their connection_lost runs.
        return (len(self.connections) > self.max_connections
                and sum(not connection.transport.is_closing() for connection in self.connections)
                > self.max_connections)

    def _refused(self, transport: asyncio.Transport) -> None:
        now = time.monotonic()
        if now - _last_refusal_warning[0] > _WARNING_INTERVAL:
            _last_refusal_warning[0] = now
            log.warning("HTTP connection from %s refused: %d connections open, none waiting for a request "
                        "(api.max_connections; logged once per %d s)", self.client, self.max_connections,
                        _WARNING_INTERVAL)
        transport.close()

    def _make_room(self) -> bool:
        """Close the open connection that has waited longest for a request head; False if none waits."""
        waiting = [connection for connection in self.connections
                   if isinstance(connection, GuardedH11Protocol) and connection is not self
                   and connection._waiting_since is not None and not connection.transport.is_closing()]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda connection: connection._waiting_since or 0.0)
        log.debug("HTTP connection from %s closed to make room: waited %.1f s for a request head",
                  oldest.client, time.monotonic() - (oldest._waiting_since or 0.0))
        oldest._head_arrived()
        oldest.transport.close()
        return True


def guarded_h11_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)` with these limits."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"header_timeout": header_timeout, "max_connections": max_connections})
