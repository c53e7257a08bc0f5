"""Collection: the sources that turn bytes from the outside into `RawRecord`s.

Live sources keep the `Source` protocol (`collect/source.py`: `start()` / `stop()` /
`counters` / `settings` / `describe()`, registered by name in `SOURCE_TYPES`) and hand
records to a `RecordSink` the pipeline provides:

* `SyslogUdpSource`  — syslog over UDP, one datagram per record, drops counted;
* `SyslogTcpSource`  — syslog over TCP/TLS, RFC 6587 framing, backpressure;
* `FileTailSource`   — files named by globs, rotation and restarts survived.

One-shot reading for `import` / `parse`: `FileReader` and `iter_file_records`
(files, folders, gzip, EVTX, stdin). The framers in `framing` are pure and reusable.
Submodules are imported lazily, so `import guetteur.collect` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guetteur.collect.counters import SourceCounters
    from guetteur.collect.file_tail import FileTailSource, offsets_path
    from guetteur.collect.files import FileReader, iter_file_records
    from guetteur.collect.sink import MemorySink, RecordSink
    from guetteur.collect.source import Source, build_sources
    from guetteur.collect.syslog_tcp import SyslogTcpSource
    from guetteur.collect.syslog_udp import SyslogUdpSource

_WHERE = {
    "SourceCounters": "counters",
    "FileTailSource": "file_tail",
    "FileReader": "files",
    "iter_file_records": "files",
    "MemorySink": "sink",
    "RecordSink": "sink",
    "Source": "source",
    "build_sources": "source",
    "SyslogTcpSource": "syslog_tcp",
    "SyslogUdpSource": "syslog_udp",
    "offsets_path": "file_tail",
}

__all__ = [
    "FileReader",
    "FileTailSource",
    "MemorySink",
    "RecordSink",
    "Source",
    "SourceCounters",
    "SyslogTcpSource",
    "SyslogUdpSource",
    "build_sources",
    "iter_file_records",
    "offsets_path",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
