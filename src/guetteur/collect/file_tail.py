"""Tailing files named by globs, across rotations and restarts.

Every `poll_interval` the globs are expanded; each matching regular file is followed by
identity (device + inode), not by name:

* new data is cut into lines (`LineFramer`) and handed to the sink with `put`, which
  waits while the pipeline is full — reading pauses, nothing is lost;
* a file whose name now points elsewhere (rename rotation) or that vanished keeps being
  read from its open descriptor until it has been quiet for `rotate_wait` seconds, then
  its last unfinished line is emitted and it is closed;
* a file that shrank, or whose first bytes changed (copytruncate), is read again from 0;
* new files matching a glob are read from their beginning;
* an unfinished last line (no newline yet) is held until completed.

Offsets are saved atomically (`OffsetStore`) every `save_interval` seconds and at stop,
keyed by device + inode and checked against a fingerprint of the first bytes, so a
restart resumes where the previous run stopped and a reused inode is read from 0.
With the pipeline as sink, each chunk of lines is handed over with a `Receipt` and the
saved offset passes a line only once it is committed to the store: the offset file is
this source's acknowledgement. After a clean stop no line is emitted twice or skipped;
after a crash (SIGKILL included), lines not yet committed are read again (at least
once, never lost).

Files are read in the event loop with plain `os.pread` (local files answer from the page
cache); one poll reads at most `read_budget` bytes per file before letting others run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import glob
import logging
import os
import stat
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from guetteur.collect.counters import ERROR_INTERNAL, ERROR_IO, SourceCounters
from guetteur.collect.framing import Line, LineFramer
from guetteur.collect.multiline import Joiner, joiner_for
from guetteur.collect.offsets import (
    FINGERPRINT_BYTES,
    FileOffset,
    OffsetStore,
    file_key,
    fingerprint,
    fingerprint_matches,
)
from guetteur.collect.sink import AcknowledgingSink, RecordSink
from guetteur.config import FileInput, Settings
from guetteur.model import PEER_FILE, RawRecord
from guetteur.pipeline.receipts import Receipt

log = logging.getLogger(__name__)


def offsets_path(settings: Settings) -> Path:
    """Where the file offsets are kept: `<data_dir>/state/file_offsets.json`."""
    return settings.data_dir / "state" / "file_offsets.json"


@dataclass(slots=True)
class _Tailed:
    """One file being followed."""

    key: str
    path: str
    hint: str | None
    fd: int
    framer: LineFramer
    fingerprint: str
    fingerprint_len: int
    joiner: Joiner  # continuation lines joined into records (multiline)
    seen_size: int = -1
    seen_mtime: int = -1
    quiet_since: float = 0.0  # last time it grew (for rotate_wait)
    rotated_at: float | None = None  # when no glob matched it any more

    # handed to the pipeline but not yet committed: (receipt, offset of the chunk's first line)
    uncommitted: deque[tuple[Receipt, int]] = field(default_factory=deque)

    def offset(self) -> FileOffset:
        """Where to resume: after the last line committed to the store. Lines handed over
        but not committed are read again after a crash (at least once, never lost)."""
        pending = self.uncommitted
        while pending and pending[0][0].done:
            pending.popleft()
        if pending:
            return FileOffset(self.path, pending[0][1], self.fingerprint, self.fingerprint_len, False)
        held = self.joiner.pending_offset
        if held is not None:  # a record still waiting for its continuation lines: read it again whole
            return FileOffset(self.path, held, self.fingerprint, self.fingerprint_len, False)
        return FileOffset(
            self.path, self.framer.resume_offset, self.fingerprint, self.fingerprint_len, self.framer.skipping
        )


class FileTailSource:
    """Follows the files matched by `inputs` (globs with an optional parser hint).

    bound_port is always None (no socket); counters.files_open is the number of files followed.
    """

    name = "file"
    peer_field = PEER_FILE

    def __init__(
        self,
        settings: Settings,
        sink: RecordSink,
        *,
        inputs: list[FileInput] | None = None,
        state_path: Path | None = None,
        max_record_bytes: int | None = None,
        poll_interval: float = 0.25,
        rotate_wait: float = 5.0,
        save_interval: float = 1.0,
        read_size: int = 262_144,
        read_budget: int = 16 * 1_048_576,
        stop_timeout: float = 5.0,
    ) -> None:
        """Follows `settings.file_inputs`, keeps offsets in `offsets_path(settings)`, cuts at
        `settings.pipeline.max_record_bytes`; a keyword given here wins over the setting."""
        self.sink = sink
        self.inputs = list(settings.file_inputs if inputs is None else inputs)
        self.store = OffsetStore(offsets_path(settings) if state_path is None else state_path)
        self.max_record_bytes = settings.pipeline.max_record_bytes if max_record_bytes is None else max_record_bytes
        self.poll_interval = poll_interval
        self.rotate_wait = rotate_wait
        self.save_interval = save_interval
        self.read_size = read_size
        self.read_budget = read_budget
        self.stop_timeout = stop_timeout
        self.counters = SourceCounters(self.name)
        self.bound_port: int | None = None
        self._tailed: dict[str, _Tailed] = {}
        self._saved: dict[str, FileOffset] = {}  # loaded offsets not claimed by a followed file yet
        self._failing: set[str] = set()  # paths whose error was already logged
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one poll at a time (the loop's and a caller's)
        self._stopping = False
        self._dirty = False
        self._last_save = 0.0

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        """Started when `file_inputs` lists at least one glob."""
        return bool(settings.file_inputs)

    @property
    def settings(self) -> list[FileInput]:
        return self.inputs

    def describe(self) -> dict[str, object]:
        return {"file_inputs": [spec.path for spec in self.inputs]}

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load the saved offsets, find files rotated while stopped, start following."""
        self._stopping = False
        self._saved = self.store.load()
        self._scan(time.monotonic())
        self._recover_rotated()
        self._task = asyncio.create_task(self._run(), name="file-tail")

    async def stop(self) -> None:
        """Stop reading, save the offsets, close the files. Unfinished last lines are not
        emitted: the saved offset points at them and the next run reads them whole."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            _done, late = await asyncio.wait([self._task], timeout=self.stop_timeout)
            if late:  # blocked on a sink that never drains
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._wait_committed()
        self._save()
        for tailed in self._tailed.values():
            os.close(tailed.fd)
        self._tailed.clear()
        self.counters.files_open = 0

    async def _wait_committed(self) -> None:
        """At stop, give what was handed over the time to be committed (the pipeline stops
        after the sources), so the saved offsets pass it; bounded by `stop_timeout`."""
        receipts = [receipt for tailed in self._tailed.values() for receipt, _ in tailed.uncommitted]
        deadline = time.monotonic() + self.stop_timeout
        for receipt in receipts:
            if not await receipt.wait(max(deadline - time.monotonic(), 0.0)):
                return

    async def poll(self) -> None:
        """One round: expand the globs, read every followed file, close rotated ones that
        went quiet, save offsets when due. `start()` runs this every `poll_interval`;
        tests may call it directly."""
        async with self._lock:
            now = time.monotonic()
            self._scan(now)
            more = False
            for tailed in list(self._tailed.values()):
                if self._stopping:
                    break
                more |= await self._read(tailed, now)
            if any(tailed.uncommitted for tailed in self._tailed.values()):
                self._dirty = True  # commits move the offsets forward without new reads
            if self._dirty and now - self._last_save >= self.save_interval:
                self._save()
            if more:
                self._wake.set()  # some file has more than one budget waiting: no pause

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round must not end tailing
                self.counters.error(ERROR_INTERNAL)
                log.exception("file tail poll failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    # -- finding files -----------------------------------------------------------------

    def _scan(self, now: float) -> None:
        found: dict[str, tuple[str, FileInput, os.stat_result]] = {}
        for spec in self.inputs:
            pattern = os.path.expanduser(spec.path)
            for path in sorted(glob.glob(pattern, recursive=True)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # vanished between glob and stat
                if stat.S_ISREG(st.st_mode):
                    found.setdefault(file_key(st), (path, spec, st))
        for key, tailed in self._tailed.items():
            entry = found.get(key)
            if entry is None:
                if tailed.rotated_at is None:
                    tailed.rotated_at = now
            else:
                if tailed.path != entry[0]:
                    tailed.path = entry[0]  # renamed, still matched by a glob: same file
                    self._dirty = True
                tailed.rotated_at = None
        for key, (path, spec, st) in found.items():
            if key not in self._tailed:
                self._follow(key, path, spec, st, now)

    def _follow(self, key: str, path: str, spec: FileInput | None, st: os.stat_result, now: float) -> _Tailed | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if path not in self._failing:
                self._failing.add(path)
                self.counters.error(ERROR_IO)
                log.warning("cannot read %s: %s", path, exc)
            return None
        self._failing.discard(path)
        try:
            opened = os.fstat(fd)
            if file_key(opened) != key:  # replaced between stat and open: next scan sees it
                os.close(fd)
                return None
            offset, skipping = 0, False
            saved = self._saved.pop(key, None)
            if saved is not None and saved.offset <= opened.st_size and fingerprint_matches(
                fd, opened.st_size, saved.fingerprint, saved.fingerprint_len
            ):
                offset, skipping = saved.offset, saved.skipping
            elif saved is not None:
                log.info("%s is not the file saved under inode %s: reading it from the start", path, key)
            digest, length = fingerprint(fd, opened.st_size)
        except OSError as exc:
            os.close(fd)
            self.counters.error(ERROR_IO)
            log.warning("cannot read %s: %s", path, exc)
            return None
        tailed = _Tailed(
            key, path, spec.hint if spec else None, fd, LineFramer(self.max_record_bytes, offset, skipping), digest,
            length, joiner_for(spec.multiline if spec else None, self.max_record_bytes), quiet_since=now,
        )
        self._tailed[key] = tailed
        self.counters.files_open = len(self._tailed)
        self._dirty = True
        return tailed

    def _recover_rotated(self) -> None:
        """Saved files no glob matches any more were rotated while we were stopped: look
        for them (same device and inode, same first bytes) next to their old name, and
        read what they still hold before letting them go."""
        now = time.monotonic()
        for key, saved in list(self._saved.items()):
            folder = os.path.dirname(saved.path) or "."
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            ino = int(key.split(":")[1])
            for entry in entries:
                try:
                    if entry.inode() != ino or not entry.is_file():
                        continue
                    st = entry.stat()
                except OSError:
                    continue
                if file_key(st) == key:
                    spec = next((spec for spec in self.inputs
                                 if fnmatch.fnmatch(saved.path, os.path.expanduser(spec.path))), None)
                    tailed = self._follow(key, entry.path, spec, st, now)
                    if tailed is not None:
                        tailed.rotated_at = now
                        log.info("reading the end of %s (rotated from %s while stopped)", entry.path, saved.path)
                    break
        # What is still unclaimed belongs to files that are gone.
        self._saved.clear()

    # -- reading -----------------------------------------------------------------------

    async def _read(self, tailed: _Tailed, now: float) -> bool:
        """Read what `tailed` has; True when it has more than this round's budget."""
        try:
            st = os.fstat(tailed.fd)
            if (st.st_size, st.st_mtime_ns) != (tailed.seen_size, tailed.seen_mtime):
                tailed.seen_size, tailed.seen_mtime = st.st_size, st.st_mtime_ns
                await self._check_truncation(tailed, st.st_size)
            before = tailed.framer.position
            more = await self._read_new(tailed, st.st_size)
        except OSError as exc:
            self.counters.error(ERROR_IO)
            log.warning("error reading %s: %s", tailed.path, exc)
            await self._close(tailed, emit_partial=False)
            return False
        if tailed.framer.position != before:
            tailed.quiet_since = now
        elif tailed.joiner.due(now):  # quiet: the record held will not be continued
            await self._emit(tailed, tailed.joiner.flush())
        if not more and tailed.rotated_at is not None and now - max(tailed.quiet_since, tailed.rotated_at) >= self.rotate_wait:
            await self._close(tailed, emit_partial=True)
        return more

    async def _check_truncation(self, tailed: _Tailed, size: int) -> None:
        framer = tailed.framer
        rewritten = size < framer.position or not fingerprint_matches(
            tailed.fd, size, tailed.fingerprint, tailed.fingerprint_len
        )
        if rewritten:
            log.info("%s was truncated or rewritten: reading it again from the start", tailed.path)
            await self._emit(tailed, tailed.joiner.feed(framer.close()) + tailed.joiner.flush())
            tailed.framer = LineFramer(self.max_record_bytes)
            tailed.fingerprint, tailed.fingerprint_len = fingerprint(tailed.fd, size)
            self._dirty = True
        elif tailed.fingerprint_len < FINGERPRINT_BYTES and size > tailed.fingerprint_len:
            tailed.fingerprint, tailed.fingerprint_len = fingerprint(tailed.fd, size)
            self._dirty = True

    async def _read_new(self, tailed: _Tailed, size: int) -> bool:
        budget = self.read_budget
        fd = tailed.fd
        while tailed.framer.position < size:
            if budget <= 0 or self._stopping:
                return not self._stopping
            data = os.pread(fd, min(self.read_size, size - tailed.framer.position), tailed.framer.position)
            if not data:
                break
            budget -= len(data)
            self._dirty = True
            await self._emit(tailed, tailed.joiner.feed(tailed.framer.feed(data), time.monotonic()))
            await asyncio.sleep(0)  # let sockets and other files run between chunks
        return False

    async def _emit(self, tailed: _Tailed, lines: list[Line]) -> None:
        if not lines:
            return
        if isinstance(self.sink, AcknowledgingSink):
            await self._emit_with_receipt(tailed, lines, self.sink)
            return
        put = self.sink.put
        counters = self.counters
        path, hint, source = tailed.path, tailed.hint, self.name
        now = time.time()
        done = 0
        try:
            for data, offset, cut in lines:
                meta: dict[str, object] = {"offset": offset, "truncated": True} if cut else {"offset": offset}
                await put(RawRecord(data, now, source, hint, path, meta, PEER_FILE))
                done += 1
                counters.received += 1
                counters.bytes += len(data)
                counters.truncated += cut
        except asyncio.CancelledError:
            # Stopped while the sink was full: resume at the first line not handed over.
            tailed.framer = LineFramer(self.max_record_bytes, lines[done][1])
            tailed.joiner.reset()  # what it held comes after: read again too
            self._dirty = True
            raise

    async def _emit_with_receipt(self, tailed: _Tailed, lines: list[Line], sink: AcknowledgingSink) -> None:
        """Hand a chunk's lines over with a receipt: the saved offset passes them only once
        they are committed (`_Tailed.offset`)."""
        path, hint, source = tailed.path, tailed.hint, self.name
        now = time.time()
        records = [RawRecord(data, now, source, hint, path,
                             {"offset": offset, "truncated": True} if cut else {"offset": offset}, PEER_FILE)
                   for data, offset, cut in lines]
        receipt = Receipt(len(records), waiting=False)
        tailed.uncommitted.append((receipt, lines[0][1]))
        done = 0
        try:
            while True:
                done = sink.offer_upto(records, done, receipt)
                if done == len(records):
                    break
                await sink.wait_for_space()
        except asyncio.CancelledError:
            # Stopped while the sink was full: resume at the first line not handed over.
            tailed.framer = LineFramer(self.max_record_bytes, lines[done][1])
            tailed.joiner.reset()  # what it held comes after: read again too
            self._dirty = True
            raise
        finally:
            counters = self.counters
            counters.received += done
            counters.bytes += sum(len(r.data) for r in records[:done])
            counters.truncated += sum(1 for _, _, cut in lines[:done] if cut)

    async def _close(self, tailed: _Tailed, emit_partial: bool) -> None:
        if emit_partial:
            await self._emit(tailed, tailed.joiner.feed(tailed.framer.close()) + tailed.joiner.flush())
        del self._tailed[tailed.key]
        os.close(tailed.fd)
        self.counters.files_open = len(self._tailed)
        self._dirty = True

    def _save(self) -> None:
        offsets = {key: tailed.offset() for key, tailed in self._tailed.items()}
        try:
            self.store.save(offsets)
        except OSError as exc:
            self.counters.error(ERROR_IO)
            log.warning("cannot save file offsets to %s: %s", self.store.path, exc)
            return
        self._dirty = False
        self._last_save = time.monotonic()
