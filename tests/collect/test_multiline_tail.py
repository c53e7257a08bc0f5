"""Multi-line records in tailed files: joined across writes, flushed after the timeout, and the saved
offset (the file source's acknowledgement) passes a record only once it is committed, never a record
still held for its continuation lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

from guetteur.collect.file_tail import FileTailSource, offsets_path
from guetteur.collect.sink import MemorySink
from guetteur.config import FileInput, MultilineSettings, Settings
from guetteur.pipeline.buffer import Cut, RecordBuffer
from guetteur.pipeline.counters import Counters
from guetteur.pipeline.receipts import settle_runs

DATA = Path(__file__).parent / "data"
TRACEBACKS = (DATA / "python_tracebacks.log").read_bytes()


def tail_settings(folder: Path, **multiline: object) -> Settings:
    return Settings(data_dir=folder / "data", file_inputs=[
        FileInput(path=str(folder / "*.log"), hint="python_logging", multiline=MultilineSettings(**multiline))])


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def saved_offsets(settings: Settings) -> list[int]:
    return sorted(entry["offset"] for entry in json.loads(offsets_path(settings).read_text())["files"].values())


async def test_traceback_written_after_its_log_line_joins_it(tmp_path: Path) -> None:
    """The log line, then (a later write) its traceback: one record, emitted once the next record starts."""
    log = tmp_path / "app.log"
    first_record_end = TRACEBACKS.index(b"2026-12-05 17:04:25,084")
    split = TRACEBACKS.index(b"Traceback")
    log.write_bytes(TRACEBACKS[:split])
    sink = MemorySink()
    source = FileTailSource(tail_settings(tmp_path, timeout=3600), sink, poll_interval=3600, save_interval=0)
    await source.start()
    await source.poll()
    assert [r.data for r in sink.take_all()] == [TRACEBACKS.split(b"\n")[0]]  # the warning; the error is held
    append(log, TRACEBACKS[split:first_record_end])
    await source.poll()
    assert sink.take_all() == []  # the traceback may go on
    append(log, TRACEBACKS[first_record_end:])
    await source.poll()
    records = sink.take_all()
    assert records[0].data == TRACEBACKS[TRACEBACKS.index(b"2026-12-05 17:04:25,073 - ERROR"):first_record_end - 1] \
        .replace(b"\n\n", b"\n")
    assert records[0].meta == {"offset": TRACEBACKS.index(b"2026-12-05 17:04:25,073 - ERROR")}
    await source.stop()


async def test_quiet_file_flushes_the_held_record_after_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"2026-12-05 10:00:00,000 - INFO - only line\n")
    sink = MemorySink()
    source = FileTailSource(tail_settings(tmp_path, timeout=0.2), sink, poll_interval=0.05)
    await source.start()
    try:
        records = await sink.wait_for(1)
    finally:
        await source.stop()
    assert [r.data for r in records] == [b"2026-12-05 10:00:00,000 - INFO - only line"]


async def test_offset_passes_only_committed_records_and_never_the_held_one(tmp_path: Path) -> None:
    """With the pipeline's buffer: nothing committed, offset 0; committed, the offset stops at the record
    still held ("done", waiting for continuation lines); a restart reads that record again, once."""
    log = tmp_path / "app.log"
    log.write_bytes(TRACEBACKS)
    settings = tail_settings(tmp_path, timeout=3600)
    buffer = RecordBuffer(capacity=1000, batch_size=3, max_age=3600, counters=Counters())
    source = FileTailSource(settings, buffer, poll_interval=3600, save_interval=0)
    await source.start()
    await source.poll()
    assert len(buffer) == 3
    assert saved_offsets(settings) == [0]
    cut = await buffer.next_cut()
    assert cut is not None and len(cut.records) == 3
    assert "ValueError: patient lookup failed: 17" in cut.records[1].text()
    settle_runs(cut.runs)
    await source.poll()
    held_at = TRACEBACKS.index(b"2026-12-05 17:04:25,086 - INFO - done")
    assert saved_offsets(settings) == [held_at]
    await source.stop()  # the held record is not emitted: the saved offset points at it
    assert saved_offsets(settings) == [held_at]

    again = MemorySink()
    restarted = FileTailSource(tail_settings(tmp_path, timeout=0.2), again, poll_interval=0.05)
    await restarted.start()
    try:
        records = await again.wait_for(1)
    finally:
        await restarted.stop()
    assert [r.data for r in records] == [b"2026-12-05 17:04:25,086 - INFO - done"]
    assert records[0].meta == {"offset": held_at}


async def test_a_crash_reads_the_uncommitted_records_again_whole(tmp_path: Path) -> None:
    """No stop (a SIGKILL): the last saved offset is 0, so the next run reads every record again,
    joined the same way (at least once, never lost, never a half record)."""
    log = tmp_path / "app.log"
    log.write_bytes(TRACEBACKS)
    settings = tail_settings(tmp_path, timeout=3600)
    buffer = RecordBuffer(capacity=1000, batch_size=3, max_age=3600, counters=Counters())
    crashed = FileTailSource(settings, buffer, poll_interval=3600, save_interval=0)
    await crashed.start()
    await crashed.poll()
    first = [record.data for record in (await buffer.next_cut() or Cut([])).records]  # handed over, not committed
    assert len(first) == 3
    crash(crashed)
    sink = MemorySink()
    restarted = FileTailSource(settings, sink, poll_interval=3600, save_interval=0)
    await restarted.start()
    await restarted.poll()
    assert [r.data for r in sink.take_all()] == first
    await restarted.stop()


def crash(source: FileTailSource) -> None:
    """What a SIGKILL leaves: the loop gone, descriptors closed, no final save of the offsets."""
    if source._task is not None:
        source._task.cancel()
    for tailed in source._tailed.values():
        os.close(tailed.fd)
    source._tailed.clear()
