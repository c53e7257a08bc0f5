"""Per-source counters, read by the health endpoint and the dashboard.

Every source owns one `SourceCounters`; it increments plain integer attributes (the
event loop is single-threaded, so no lock is needed) and the health endpoint reads
`as_dict()`. Names follow the component contract: what came in, what was cut, what was
lost and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class SourceCounters:
    """Counters of one source since it started.

    received:             records handed to the sink (or offered, for UDP).
    bytes:                bytes of those records (after framing, after cutting).
    truncated:            records cut at `max_record_bytes` (tagged `truncated`).
    dropped:              records lost because the sink was full (UDP only: TCP and files wait).
    errors:               I/O errors (connection reset, unreadable file...).
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
    connections: int = 0
    connections_open: int = 0
    connections_rejected: int = 0
    connections_rejected_per_address: int = 0
    connections_rejected_full: int = 0
    connections_evicted: int = 0
    connections_closed_idle: int = 0
    connections_closed_frame_timeout: int = 0
    files_open: int = 0

    def as_dict(self) -> dict[str, int | str]:
        """A JSON-ready copy, safe to hand out (later increments do not change it)."""
        return asdict(self)
