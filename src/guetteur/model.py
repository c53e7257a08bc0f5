"""The two values that cross every boundary of the pipeline.

`RawRecord` is what a source hands over: the bytes of one log record (framing removed),
when and how it arrived, and an optional hint naming the parser to use.
`Event` is what a parser gives back: one ECS document as a plain nested dict
(`{"@timestamp": ..., "event": {"category": [...]}, "host": {"name": ...}}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass(slots=True)
class RawRecord:
    """One log record as received, before parsing.

    data:     the record itself, bytes as received (framing removed) or already-decoded text.
    received: reception time, epoch seconds (float).
    source:   the input that produced it: "syslog-udp", "syslog-tcp", "http", "file", "import".
    hint:     parser name to use (see `guetteur.parse.PARSERS`), or None to auto-detect.
    peer:     remote address ("203.0.113.5:51234") or file path, when known.
    meta:     small transport facts worth keeping (file offset, HTTP key name...), or None.
    """

    data: bytes | str
    received: float
    source: str
    hint: str | None = None
    peer: str | None = None
    meta: dict[str, Any] | None = field(default=None)

    def text(self) -> str:
        """The record as text; invalid UTF-8 bytes become U+FFFD, never an error."""
        if isinstance(self.data, str):
            return self.data
        return self.data.decode("utf-8", errors="replace")
