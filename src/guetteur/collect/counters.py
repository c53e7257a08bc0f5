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
    connections_rejected: TCP connections closed at once because `max_connections` were open.
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
    files_open: int = 0

    def as_dict(self) -> dict[str, int | str]:
        """A JSON-ready copy, safe to hand out (later increments do not change it)."""
        return asdict(self)
