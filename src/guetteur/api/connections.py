"""HTTP connections of the API: deadlines for request heads and bodies, a cap on connections.

uvicorn's h11 protocol holds a connection for as long as its client trickles a request line
and headers (slowloris: thousands of connections sending a byte every few seconds) or a body,
and has no connection cap besides `limit_concurrency`, which answers 503 only to requests
that are complete. `guarded_h11_protocol` makes its subclass, installed with
`uvicorn.Config(http=...)`:

- a head deadline: a timer starts when the connection opens and after each response, and is
  cancelled when a request's line and headers are complete; when it fires, the connection is
  closed. Data arriving does not restart it. It also bounds the draining of a body the server
  already answered (a 413 at the record cap): the client has that long to read the answer.
- a body deadline, for every route: a request whose body is not complete `body_timeout` +
  `BODY_GRACE` seconds after its head is cut (the route sees a disconnect). The ingest route
  answers 408 at `body_timeout` itself; this is the backstop for any route that reads a body.
- a connection upgraded to a WebSocket leaves both deadlines behind (a live stream lasts).
- past `max_connections` open connections, the connection that has waited longest for its
  request's head is closed to make room (a flood of trickling peers evicts itself, while a
  client that sends its request at once is never the one waiting longest); when none waits
  for a head (all are in requests, each bounded by the body deadline), the new one is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from guetteur.config import ApiSettings

log = logging.getLogger(__name__)

BODY_GRACE = 5.0
"""Seconds past `api.body_timeout` before a connection is cut: a route's own 408 comes first."""

REFUSAL_LOG_INTERVAL = 10.0
"""A flood of refused connections is logged once per interval, not once each."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a request-head deadline, a body deadline and a connection cap."""

    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 60.0
    max_connections: ClassVar[int] = 1000
    last_refusal_logged: ClassVar[float] = 0.0

    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _waiting_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._over_cap() and not self._make_room():
            self._refuse(transport)
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        self._body_arrived()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:
            self._head_arrived()
            if self.conn.their_state is h11.SEND_BODY:
                self._body_timer = self.loop.call_later(self.body_timeout + BODY_GRACE, self._body_timed_out)
        if self._body_timer is not None and self.conn.their_state is not h11.SEND_BODY:
            self._body_arrived()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # The connection becomes a WebSocket, handed to its own protocol (with its own keepalive
        # pings): no deadline of this one may close it later. (The head timer, armed when the
        # connection opened, used to cut every live stream 10 s after it started.)
        self._head_arrived()
        self._body_arrived()
        super().handle_websocket_upgrade(event)

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

    def _body_arrived(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._waiting_since = None
        self._close("no complete request head within %g s", self.header_timeout)

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.conn.their_state is h11.SEND_BODY:
            self._close("request body not complete within %g s", self.body_timeout + BODY_GRACE)

    def _close(self, reason: str, seconds: float) -> None:
        if not self.transport.is_closing():
            log.debug("HTTP connection from %s closed: " + reason, self.client, seconds)
            self.transport.close()

    def _over_cap(self) -> bool:
        # Connections closed a moment ago stay in the set until their connection_lost runs.
        return (len(self.connections) > self.max_connections
                and sum(not connection.transport.is_closing() for connection in self.connections)
                > self.max_connections)

    def _refuse(self, transport: asyncio.Transport) -> None:
        now = time.monotonic()
        if now - GuardedH11Protocol.last_refusal_logged > REFUSAL_LOG_INTERVAL:
            GuardedH11Protocol.last_refusal_logged = now
            log.warning("HTTP connection from %s refused: %d connections open, all in requests "
                        "(api.max_connections; logged once per %g s)", self.client, self.max_connections,
                        REFUSAL_LOG_INTERVAL)
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


def guarded_h11_protocol(api: ApiSettings) -> type[GuardedH11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)` with the limits of `api`."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": api.header_timeout, "body_timeout": api.body_timeout,
        "max_connections": api.max_connections})
