"""One-shot import of Windows `.evtx` files.

`iter_evtx_records(path)` yields one `RawRecord` per event record, as the JSON text
the `evtx` library (pyevtx-rs) renders (`{"Event": {"System": ..., "EventData": ...}}`),
hinted for the `windows_evtx_import` parser (`parse/windows_evtx.py`). A damaged record or chunk does not stop the
import: the library reports it, we log a warning naming the file and the record or
chunk, count it in `EvtxStats.corrupt`, and go on with the rest of the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guetteur.model import PEER_FILE, RawRecord

log = logging.getLogger(__name__)

HINT = "windows_evtx_import"  # the windows_evtx JSON shape, decoded without the generic depth walk
# The library raises once per bad record; a file so damaged that it keeps failing far
# beyond its record count is abandoned rather than spun on.
_MAX_CONSECUTIVE_ERRORS = 100_000


@dataclass(slots=True)
class EvtxStats:
    """What one import saw: records yielded, records/chunks that could not be read."""

    path: str
    records: int = 0
    corrupt: int = 0
    errors: list[str] = field(default_factory=list)  # the first few messages, for the report

    def note_error(self, message: str) -> None:
        self.corrupt += 1
        if len(self.errors) < 20:
            self.errors.append(message)


def _parser_class() -> Any:
    """The compiled reader, imported on first use (keeps CLI start fast) and kept: an import
    statement per file costs as much as a record's wrapper on the small files of a folder."""
    global _PARSER
    if _PARSER is None:
        from evtx import PyEvtxParser

        _PARSER = PyEvtxParser
    return _PARSER


_PARSER: Any = None


def iter_evtx_records(path: Path | str, stats: EvtxStats | None = None,
                      threads: int = 1) -> Iterator[RawRecord]:
    """Yield the records of one EVTX file in file order; never raises for bad content.

    `stats` (optional) is filled as records are read: pass one to learn how many records
    were corrupt. An unreadable file (missing, not EVTX) counts as one corrupt unit.
    """
    name = str(path)
    stats = stats if stats is not None else EvtxStats(name)
    try:
        parser = _parser_class()(name, number_of_threads=threads)
        records = parser.records_json()
    except (OSError, RuntimeError, ValueError) as exc:
        log.warning("evtx %s: cannot open: %s", name, exc)
        stats.note_error(f"open: {exc}")
        return
    source, hint, now = "import", HINT, time.time
    consecutive = 0
    while True:
        # One `for` over the library's iterator, re-entered after each error it raises
        # (cheaper than a `try` around every `next()`).
        try:
            for item in records:
                consecutive = 0
                if type(item) is not dict:
                    stats.note_error("record: not a record")
                    continue
                data = item.get("data")
                if type(data) is not str:
                    stats.note_error(f"record {item.get('event_record_id')}: no data")
                    continue
                stats.records += 1
                yield RawRecord(data, now(), source, hint, name, None, PEER_FILE)
            break
        except (RuntimeError, ValueError, OSError) as exc:
            # e.g. "Failed to parse record number 211: ..." or a chunk header error
            consecutive += 1
            stats.note_error(str(exc))
            log.warning("evtx %s: skipped unreadable data: %s", name, exc)
            if consecutive >= _MAX_CONSECUTIVE_ERRORS:
                log.warning("evtx %s: giving up after %d consecutive errors", name, consecutive)
                break
    if stats.corrupt:
        log.warning("evtx %s: %d records read, %d unreadable records or chunks skipped",
                    name, stats.records, stats.corrupt)
