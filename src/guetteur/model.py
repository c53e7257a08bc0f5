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

# The ECS field a record's `peer` is stored in, as its source declares (`peer_field`).
PEER_ADDRESS = "log.source.address"  # a network sender
PEER_FILE = "log.file.path"  # a file read or tailed


@dataclass(slots=True)
class RawRecord:
    """One log record as received, before parsing.

    data:     the record itself, bytes as received (framing removed) or already-decoded text.
    received: reception time, epoch seconds (float).
    source:   the input type that produced it ("syslog-udp", "syslog-tcp", "http", "file",
              "import"...): the source's `name`, stored as `input.type`.
    hint:     parser name to use (see `guetteur.parse.PARSERS`), or None to auto-detect.
    peer:     remote address ("203.0.113.5:51234") or file path, when known.
    meta:     small transport facts worth keeping (file offset, HTTP key name...), or None.
    peer_field: the ECS field `peer` is stored in (`PEER_ADDRESS`, `PEER_FILE`), declared by
              the source (`guetteur.collect.source.Source.peer_field`); the same for every
              record of one source.
    """

    data: bytes | str
    received: float
    source: str
    hint: str | None = None
    peer: str | None = None
    meta: dict[str, Any] | None = field(default=None)
    peer_field: str = PEER_ADDRESS

    def text(self) -> str:
        """The record as text; invalid UTF-8 bytes become U+FFFD, never an error."""
        if isinstance(self.data, str):
            return self.data
        return self.data.decode("utf-8", errors="replace")
