"""What the demo generators yield: one log line, how to send it, and when.

A `Step` is the unit shared by normal traffic, attack scenarios, the sender and the
ingest benchmark. Generators yield steps lazily, so a line's timestamp is taken when the
sender reaches it (timestamps are "now"); tests iterate the same generators with a fake
clock and ignore the delays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, NamedTuple

Transport = Literal["syslog-tcp", "syslog-udp", "http"]
SYSLOG_TCP: Final = "syslog-tcp"
SYSLOG_UDP: Final = "syslog-udp"
HTTP: Final = "http"
TRANSPORTS: Final[tuple[Transport, ...]] = (SYSLOG_TCP, SYSLOG_UDP, HTTP)

#: The log formats the demo writes. The HTTP sender turns a format into a parser hint
#: (`?source=`) when a parser of that family is registered; JSON formats go as NDJSON.
FORMATS: Final = (
    "sshd", "sudo", "su", "cron", "useradd", "kernel-ufw", "nginx", "apache",
    "uvicorn", "python-logging", "app-json", "postgresql", "auditd", "zeek-conn",
)
JSON_FORMATS: Final = frozenset({"app-json", "zeek-conn"})

Clock = Callable[[], float]


class Step(NamedTuple):
    """One line to send.

    delay:     seconds to wait *before* sending this line (0 = together with the previous).
    transport: `syslog-tcp`, `syslog-udp` or `http` (`POST /api/v1/ingest`).
    line:      the record, without framing or trailing newline. Syslog transports carry a
               full syslog line (PRI + header); HTTP carries the application's own line.
    fmt:       one of `FORMATS`: what wrote the line (used for the parser hint and counts).
    """

    delay: float
    transport: Transport
    line: str
    fmt: str
