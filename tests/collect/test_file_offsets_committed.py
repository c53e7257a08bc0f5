"""File offsets are the file source's acknowledgement: saved only past committed lines.

With the pipeline's buffer as sink, a line handed over but not yet committed to the store
is read again after a crash; once its batch is committed (its receipt settled), the saved
offset passes it. Before this, offsets were saved as soon as lines were buffered, so a
SIGKILL lost every buffered line for good.
"""

from __future__ import annotations

import json
from pathlib import Path

from guetteur.collect.file_tail import FileTailSource, offsets_path
from guetteur.config import FileInput, MultilineSettings, Settings
from guetteur.pipeline.buffer import RecordBuffer
from guetteur.pipeline.counters import Counters
from guetteur.pipeline.receipts import settle_runs


def saved_offsets(settings: Settings) -> list[int]:
    return sorted(entry["offset"] for entry in json.loads(offsets_path(settings).read_text())["files"].values())


async def test_saved_offset_passes_lines_only_once_committed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(f"line {n}\n".encode() for n in range(50)))
    one_line_records = MultilineSettings(enabled=False)  # test_multiline_tail.py: the same with joined records
    settings = Settings(data_dir=tmp_path, file_inputs=[FileInput(path=str(tmp_path / "*.log"),
                                                                  multiline=one_line_records)])
    buffer = RecordBuffer(capacity=1000, batch_size=50, max_age=3600, counters=Counters())
    source = FileTailSource(settings, buffer, poll_interval=3600, save_interval=0)
    await source.start()
    await source.poll()
    with open(log, "ab") as handle:
        handle.write(b"".join(f"line {n}\n".encode() for n in range(50, 100)))
    await source.poll()
    assert len(buffer) == 100
    assert saved_offsets(settings) == [0], "nothing is committed yet: a crash must read every line again"

    first = await buffer.next_cut()
    assert first is not None and len(first.records) == 50
    settle_runs(first.runs)  # the worker committed the first batch
    await source.poll()
    assert saved_offsets(settings) == [log.read_bytes().index(b"line 50\n")]

    second = await buffer.next_cut()
    assert second is not None
    settle_runs(second.runs)
    await source.poll()
    assert saved_offsets(settings) == [log.stat().st_size]
    await source.stop()
