"""Per-source counters, read by the health endpoint and the dashboard.

Every source owns one `SourceCounters`; it increments plain integer attributes (the
event loop is single-threaded, so no lock is needed) and the health endpoint reads
`as_dict()` (under `transports`, keyed by the source's name).

The contract every source keeps (Vector's component specification is the model):

* ``received`` and ``bytes``: each record handed to the sink is counted once, with its
  size after framing (Vector's `component_received_events_total` /
  `..._event_bytes_total`);
* ``truncated``: records cut at `max_record_bytes` (still received, tagged `truncated`);
* ``dropped``: records lost before the sink took them, and why is the source's to tell in
  its docstring (UDP under a full pipeline; Vector's `component_discarded_events_total`);
  a source that can push back (TCP, files, HTTP) waits instead and never drops;
* ``errors`` with ``errors_by_type``: every error, counted once, under a short stable
  type name (`ERROR_*` below; Vector's `component_errors_total{error_type}`), through
  `error(kind)`. An error never stops the source: the connection or file concerned is
  closed or retried, the others go on.

Connection-oriented sources also keep the `connections*` counters (see
`collect.connections`), file sources `files_open`. The pipeline counts the rest per input
type (parsed, stored, quarantined: `pipeline.counters.FlowCounters`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# error types (`errors_by_type` keys)
ERROR_IO = "io"  # connection reset, unreadable file, socket error
ERROR_TLS_HANDSHAKE = "tls_handshake"  # a TLS handshake failed (plain text, wrong certificate...)
ERROR_TLS_TIMEOUT = "tls_handshake_timeout"  # no complete handshake within the deadline
ERROR_TLS_ON_PLAIN = "tls_on_plain_port"  # a TLS client on a plain TCP port (closed at its first bytes)
ERROR_INTERNAL = "internal"  # an unexpected exception (a bug, or the pipeline refusing at shutdown)


@dataclass(slots=True)
class SourceCounters:
    """Counters of one source since it started.

    received:             records handed to the sink (or offered, for UDP).
    bytes:                bytes of those records (after framing, after cutting).
    truncated:            records cut at `max_record_bytes` (tagged `truncated`).
    dropped:              records lost because the sink was full (UDP only: TCP and files wait).
    errors:               every error (the sum of `errors_by_type`).
    errors_by_type:       errors by type (`ERROR_*`).
    connections:          TCP connections accepted since start.
    connections_open:     TCP connections open now.
    connections_rejected: TCP connections refused at once, for any reason (the two below,
                          or arriving during `stop()`).
    connections_rejected_per_address: refused: their address held `max_connections_per_address`.
    connections_rejected_full:        refused: `max_connections` open and every one busy
                          (waiting on a full pipeline), so none could be evicted.
    connections_evicted:  closed to let a new connection in when `max_connections` were open
                          (one that never completed a record first, the longest idle first).
    connections_closed_idle:          closed after `idle_timeout` seconds without a byte.
    connections_closed_frame_timeout: closed after holding an unfinished record for
                          `frame_timeout` seconds (the partial record is emitted first).
    files_open:           files being tailed now.
    """

    source: str
    received: int = 0
    bytes: int = 0
    truncated: int = 0
    dropped: int = 0
    errors: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    connections_open: int = 0
    connections_rejected: int = 0
    connections_rejected_per_address: int = 0
    connections_rejected_full: int = 0
    connections_evicted: int = 0
    connections_closed_idle: int = 0
    connections_closed_frame_timeout: int = 0
    files_open: int = 0

    def error(self, kind: str) -> None:
        """Count one error of type `kind` (`ERROR_*`)."""
        self.errors += 1
        self.errors_by_type[kind] = self.errors_by_type.get(kind, 0) + 1

    def as_dict(self) -> dict[str, int | str | dict[str, int]]:
        """A JSON-ready copy, safe to hand out (later increments do not change it)."""
        return asdict(self)
