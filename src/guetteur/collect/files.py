"""One-shot reading of files for `guetteur import` and `guetteur parse`.

`FileReader(paths, hint)` is an iterable of `RawRecord`s:

* a folder is walked recursively (sorted; entries whose name starts with "." are skipped
  inside folders, so a `.git` folder is not imported);
* plain text is read in large chunks and cut into lines (bytes, newline and a trailing
  CR removed, empty lines skipped; invalid UTF-8 is kept as is);
* gzip files (magic bytes `1f 8b`, whatever their name) are decompressed on the fly,
  concatenated members included;
* EVTX files (`.evtx` or magic `ElfFile`) are handed to `guetteur.collect.evtx`;
* `-` is standard input;
* continuation lines (tracebacks, stack traces, indented lines) join the record they
  continue (`collect/multiline.py`; `multiline=` configures or disables it).

Lines longer than `max_record_bytes` are cut, tagged `truncated`, and the rest of the
line is discarded. Each record's `peer` is the file path ("-" for stdin) and its
`meta["offset"]` the byte offset of the line in the (decompressed) file.

A file that cannot be read, or a damaged gzip stream, does not stop the import: its
readable part is kept and a message is added to `errors`. `total_bytes` (known before
iterating) and `bytes_read` (bytes consumed on disk so far, compressed size for gzip)
drive a progress bar.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from guetteur.collect.file_tail import FileTailSource
from guetteur.collect.framing import Line, LineFramer
from guetteur.collect.multiline import joiner_for
from guetteur.config import MultilineSettings
from guetteur.model import PEER_FILE, RawRecord

# Reading files once (here) and following them (`file_tail`) are reached from one place.
__all__ = ["FileReader", "FileTailSource", "expand_paths", "iter_file_records"]

log = logging.getLogger(__name__)

STDIN = "-"
READ_SIZE = 1_048_576
_GZIP_MAGIC = b"\x1f\x8b"
_EVTX_MAGIC = b"ElfFile\x00"


def _chunks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    while data := stream.read(size):
        yield data


def _gunzip(raw: BinaryIO, size: int) -> Iterator[bytes]:
    """Decompressed gzip data in pieces of at most `size` bytes, members concatenated.

    Output is bounded per piece (a small archive can hold gigabytes of zeros); a damaged
    or cut stream raises only after everything before the damage has been yielded.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    started = False  # the current member has received bytes
    while compressed := raw.read(size):
        data = compressed
        while True:
            if not started:
                data = data.lstrip(b"\x00")  # padding between or after members
                if not data:
                    break
                started = True
            piece = inflater.decompress(data, size)
            if piece:
                yield piece
            if inflater.eof:
                data = inflater.unused_data
                inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                started = False
                continue
            data = inflater.unconsumed_tail
            if not data and len(piece) < size:
                break  # input used up and no output held back: read more
    if started:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def expand_paths(paths: Sequence[Path | str], errors: list[str] | None = None) -> list[str]:
    """The files named by `paths`, folders walked recursively (each folder's files sorted by
    path), in the order given; "-" kept
    as is. Missing paths are reported in `errors` (when given) and left out."""
    files: list[str] = []
    for item in paths:
        name = str(item)
        if name == STDIN:
            files.append(STDIN)
        elif os.path.isdir(name):
            found: list[str] = []
            for root, dirs, names in os.walk(name):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.extend(os.path.join(root, n) for n in names if not n.startswith("."))
            files.extend(sorted(found))
        elif os.path.exists(name):
            files.append(name)
        elif errors is not None:
            errors.append(f"{name}: no such file or folder")
    return files


class FileReader:
    """Records of files, folders, gzip, EVTX and stdin, read once, in order.

    total_bytes: size on disk of every file to read (stdin not included), known at once.
    bytes_read:  bytes consumed so far (compressed bytes for gzip), for a progress bar.
    records:     records yielded so far; truncated: how many of them were cut.
    errors:      one message per unreadable file or damaged stream (reading went on).
    """

    def __init__(
        self,
        paths: Sequence[Path | str],
        hint: str | None = None,
        *,
        source: str = "import",
        max_record_bytes: int = 1_048_576,
        stdin: BinaryIO | None = None,
        read_size: int = READ_SIZE,
        multiline: MultilineSettings | None = None,
    ) -> None:
        """`multiline`: how continuation lines join into records (None: the built-in rules;
        `MultilineSettings(enabled=False)`: one line, one record)."""
        self.hint = hint
        self.multiline = multiline
        self.source = source
        self.max_record_bytes = max_record_bytes
        self.read_size = read_size
        self._stdin = stdin
        self.errors: list[str] = []
        self.files = expand_paths(paths, self.errors)
        self.total_bytes = 0
        for name in self.files:
            if name != STDIN:
                try:
                    self.total_bytes += os.path.getsize(name)
                except OSError:
                    pass  # reported when it is read
        self.bytes_read = 0
        self.records = 0
        self.truncated = 0

    def __iter__(self) -> Iterator[RawRecord]:
        for name in self.files:
            yield from self._read_one(name)

    def _read_one(self, name: str) -> Iterator[RawRecord]:
        if name == STDIN:
            stream = self._stdin if self._stdin is not None else sys.stdin.buffer
            yield from self._lines(name, _chunks(stream, self.read_size), None)
            return
        done_before = self.bytes_read
        try:
            handle = open(name, "rb")  # closed in the finally below, also when the caller stops early
        except OSError as exc:
            self._error(name, exc)
            return
        try:
            head = handle.read(8)
            handle.seek(0)
            if head.startswith(_EVTX_MAGIC) or (name.lower().endswith(".evtx") and not head.startswith(_GZIP_MAGIC)):
                handle.close()
                yield from self._evtx(name)
            elif head.startswith(_GZIP_MAGIC):
                yield from self._lines(name, _gunzip(handle, self.read_size), handle)
            else:
                yield from self._lines(name, _chunks(handle, self.read_size), handle)
        finally:
            handle.close()
            try:
                self.bytes_read = done_before + os.path.getsize(name)
            except OSError:
                pass

    def _lines(self, name: str, chunks: Iterator[bytes], raw: BinaryIO | None) -> Iterator[RawRecord]:
        """Cut `chunks` into records; `raw` is the file on disk whose position is progress."""
        framer = LineFramer(self.max_record_bytes)
        joiner = joiner_for(self.multiline, self.max_record_bytes)
        base = self.bytes_read
        try:
            while True:
                try:
                    data = next(chunks, b"")
                except (OSError, EOFError, zlib.error) as exc:  # damaged or cut gzip stream
                    self._error(name, exc)
                    break
                if not data:
                    break
                if raw is not None:
                    self.bytes_read = base + raw.tell()
                else:
                    self.bytes_read += len(data)
                yield from self._records(name, joiner.feed(framer.feed(data)))
            yield from self._records(name, joiner.feed(framer.close()) + joiner.flush())
        finally:
            self.truncated += framer.truncated

    def _records(self, name: str, lines: list[Line]) -> Iterator[RawRecord]:
        if not lines:
            return
        now = time.time()
        source, hint = self.source, self.hint
        for data, offset, cut in lines:
            self.records += 1
            yield RawRecord(data, now, source, hint, name,
                            {"offset": offset, "truncated": True} if cut else {"offset": offset}, PEER_FILE)

    def _evtx(self, name: str) -> Iterator[RawRecord]:
        try:
            from guetteur.collect.evtx import EvtxStats, iter_evtx_records
        except ImportError as exc:
            self._error(name, f"EVTX reading is not available ({exc})")
            return
        stats = EvtxStats(name)
        for record in iter_evtx_records(Path(name), stats):
            record.source = self.source
            if record.hint is None:
                record.hint = self.hint
            self.records += 1
            yield record
        for message in stats.errors:
            self.errors.append(f"{name}: {message}")
        if stats.corrupt > len(stats.errors):
            self.errors.append(f"{name}: {stats.corrupt - len(stats.errors)} more unreadable records or chunks")

    def _error(self, name: str, exc: object) -> None:
        message = f"{name}: {exc}"
        log.warning("import: %s", message)
        self.errors.append(message)


def iter_file_records(
    paths: Sequence[Path | str],
    hint: str | None = None,
    *,
    source: str = "import",
    max_record_bytes: int = 1_048_576,
    stdin: BinaryIO | None = None,
) -> Iterator[RawRecord]:
    """The records of `paths` (files, folders, .gz, .evtx, "-" for stdin), in order.
    Use `FileReader` directly to also get progress and errors."""
    return iter(FileReader(paths, hint, source=source, max_record_bytes=max_record_bytes, stdin=stdin))
