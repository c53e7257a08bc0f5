"""FileTailSource on real files: appends, rotations, restarts, new files, limits."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

from guetteur.collect.file_tail import FileTailSource, offsets_path
from guetteur.collect.sink import MemorySink
from guetteur.config import FileInput, MultilineSettings, Settings


def make_source(sink: MemorySink, folder: Path, pattern: str = "*.log", **options: object) -> FileTailSource:
    """A source whose own loop stays idle (huge poll interval): tests drive `poll()`. One line,
    one record (multiline off): these tests are about lines; test_multiline_tail.py joins them."""
    options.setdefault("poll_interval", 3600)
    options.setdefault("rotate_wait", 0)
    settings = Settings(data_dir=folder, file_inputs=[FileInput(path=str(folder / pattern), hint="linux_auth",
                                                                multiline=MultilineSettings(enabled=False))])
    return FileTailSource(settings, sink, **options)  # type: ignore[arg-type]


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


async def polled(source: FileTailSource, sink: MemorySink) -> list[bytes]:
    await source.poll()
    return [r.data for r in sink.take_all()]


async def test_appended_lines_arrive_with_offsets_path_and_hint(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"one\r\ntwo\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    await source.poll()
    records = sink.take_all()
    assert [(r.data, r.meta) for r in records] == [(b"one", {"offset": 0}), (b"two", {"offset": 5})]
    assert {(r.source, r.peer, r.hint) for r in records} == {("file", str(log), "linux_auth")}
    append(log, b"three\n")
    assert await polled(source, sink) == [b"three"]
    assert await polled(source, sink) == []
    await source.stop()


async def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"done\nhalf")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    assert await polled(source, sink) == [b"done"]
    append(log, b" and more")
    assert await polled(source, sink) == []
    append(log, b" and the end\nnext\n")
    await source.poll()
    records = sink.take_all()
    assert [(r.data, r.meta) for r in records] == [
        (b"half and more and the end", {"offset": 5}),
        (b"next", {"offset": 31}),
    ]
    await source.stop()


async def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"old 1\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    assert await polled(source, sink) == [b"old 1"]
    append(log, b"old 2\nold partial")  # written before the rotation, not read yet
    log.rename(tmp_path / "app.log.1")
    log.write_bytes(b"new 1\n")
    got = await polled(source, sink)
    # The rotated file is read to its end, its unfinished last line included, then closed.
    assert sorted(got) == sorted([b"old 2", b"old partial", b"new 1"])
    assert got.index(b"old 2") < got.index(b"old partial")
    assert source.counters.files_open == 1
    append(log, b"new 2\n")
    assert await polled(source, sink) == [b"new 2"]
    await source.stop()


async def test_rotated_file_is_followed_while_the_writer_still_appends(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path, rotate_wait=3600)
    await source.start()
    assert await polled(source, sink) == [b"a"]
    rotated = tmp_path / "app.log.1"
    log.rename(rotated)
    log.write_bytes(b"")
    append(rotated, b"late write to the old file\n")  # the writer has not reopened yet
    assert await polled(source, sink) == [b"late write to the old file"]
    assert source.counters.files_open == 2
    await source.stop()


async def test_copytruncate_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"before rotation 1\nbefore rotation 2\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    assert len(await polled(source, sink)) == 2
    shutil.copy(log, tmp_path / "app.log.1")
    with open(log, "r+b") as handle:
        handle.truncate(0)
    append(log, b"after 1\n")  # shorter than what was read: size < offset
    assert await polled(source, sink) == [b"after 1"]
    # Again, but the writer outgrows the old offset before the next poll: the changed first
    # bytes (fingerprint) tell.
    shutil.copy(log, tmp_path / "app.log.2")
    with open(log, "r+b") as handle:
        handle.truncate(0)
    append(log, b"X" * 100 + b"\nafter 3\n")
    assert await polled(source, sink) == [b"X" * 100, b"after 3"]
    await source.stop()


async def test_restart_resumes_exactly_without_duplicates_or_gaps(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"1\n2\n3 partial")
    sink = MemorySink()
    first = make_source(sink, tmp_path)
    await first.start()
    assert await polled(first, sink) == [b"1", b"2"]
    await first.stop()
    state = json.loads((tmp_path / "state" / "file_offsets.json").read_text())
    (entry,) = state["files"].values()
    assert entry["offset"] == 4 and entry["path"] == str(log)  # the unfinished line's start
    append(log, b" completed\n4\n")
    second = make_source(sink, tmp_path)
    await second.start()
    assert await polled(second, sink) == [b"3 partial completed", b"4"]
    append(log, b"5\n")
    assert await polled(second, sink) == [b"5"]
    await second.stop()


async def test_restart_with_the_loop_running(tmp_path: Path) -> None:
    """The same through `start()`'s own polling loop, many lines, several restarts."""
    log = tmp_path / "app.log"
    sink = MemorySink()
    expected: list[bytes] = []
    for run in range(3):
        lines = [b"run %d line %d" % (run, i) for i in range(500)]
        append(log, b"\n".join(lines) + b"\n")
        expected += lines
        source = make_source(sink, tmp_path, poll_interval=0.02, read_size=4096)
        await source.start()
        await sink.wait_for(len(expected))
        await source.stop()
    assert [r.data for r in sink.take_all()] == expected


async def test_reused_inode_with_other_content_is_read_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"first file line 1\nfirst file line 2\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    await source.poll()
    await source.stop()
    sink.take_all()
    # Same device and inode, other first bytes: what a reused inode looks like.
    with open(log, "r+b") as handle:
        handle.write(b"ANOTHER file entirely\nwith more lines than before\n")
    again = make_source(sink, tmp_path)
    await again.start()
    assert await polled(again, sink) == [b"ANOTHER file entirely", b"with more lines than before"]
    await again.stop()


async def test_files_rotated_while_stopped_are_finished_first(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"seen\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    assert await polled(source, sink) == [b"seen"]
    await source.stop()
    append(log, b"written while stopped\n")
    log.rename(tmp_path / "app.log-20240501")
    log.write_bytes(b"new file\n")
    again = make_source(sink, tmp_path)
    await again.start()
    got = await polled(again, sink)
    assert sorted(got) == [b"new file", b"written while stopped"]
    assert again.counters.files_open == 1  # the rotated one was closed once read
    await again.stop()


async def test_new_files_matching_the_glob_are_picked_up(tmp_path: Path) -> None:
    sink = MemorySink()
    source = make_source(sink, tmp_path, pattern="**/*.log")
    await source.start()
    assert await polled(source, sink) == []
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "x.log").write_bytes(b"from x\n")
    (tmp_path / "a.log").write_bytes(b"from a\n")
    (tmp_path / "ignored.txt").write_bytes(b"not matched\n")
    assert sorted(await polled(source, sink)) == [b"from a", b"from x"]
    assert source.counters.files_open == 2
    await source.stop()


async def test_long_lines_are_cut_also_across_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"ok\n" + b"L" * 3000)  # a long line still being written
    sink = MemorySink()
    source = make_source(sink, tmp_path, max_record_bytes=1024, read_size=512)
    await source.start()
    await source.poll()
    records = sink.take_all()
    assert [r.data for r in records] == [b"ok", b"L" * 1024]
    assert records[1].meta == {"offset": 3, "truncated": True}
    await source.stop()
    append(log, b"L" * 3000 + b"\nafter\n")
    again = make_source(sink, tmp_path, max_record_bytes=1024)
    await again.start()
    assert await polled(again, sink) == [b"after"]  # the rest of the cut line is discarded
    assert source.counters.truncated == 1
    await again.stop()


async def test_backpressure_pauses_reading_and_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"line %05d\n" % i for i in range(2000)))
    sink = MemorySink(capacity=50)
    source = make_source(sink, tmp_path, poll_interval=0.01, read_size=1024)
    await source.start()
    await sink.wait_for(50)
    await asyncio.sleep(0.05)
    assert len(sink) == 50 and sink.put_waits >= 1  # full: the reader waits
    seen: list[bytes] = []
    while len(seen) < 2000:
        await sink.wait_for(1)
        seen += [r.data for r in sink.take_all()]
    assert seen == [b"line %05d" % i for i in range(2000)]
    await source.stop()


async def test_stop_while_the_sink_is_full_saves_the_first_line_not_handed_over(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"line %03d\n" % i for i in range(100)))
    sink = MemorySink(capacity=10)
    source = make_source(sink, tmp_path, poll_interval=0.01, stop_timeout=0.1)
    await source.start()
    await sink.wait_for(10)
    await source.stop()  # the sink never drained
    first = [r.data for r in sink.take_all()]
    assert first == [b"line %03d" % i for i in range(10)]
    drained = MemorySink()
    again = make_source(drained, tmp_path)
    await again.start()
    rest = await polled(again, drained)
    await again.stop()
    assert first + rest == [b"line %03d" % i for i in range(100)]


async def test_corrupt_state_file_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "file_offsets.json").write_bytes(b"{not json")
    (tmp_path / "app.log").write_bytes(b"x\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    assert await polled(source, sink) == [b"x"]
    await source.stop()
    assert (tmp_path / "state" / "file_offsets.json.corrupt").exists()
    assert json.loads((tmp_path / "state" / "file_offsets.json").read_text())["version"] == 1


async def test_unreadable_file_is_counted_and_others_still_read(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        import pytest

        pytest.skip("root reads every file")
    secret = tmp_path / "secret.log"
    secret.write_bytes(b"hidden\n")
    secret.chmod(0)
    (tmp_path / "open.log").write_bytes(b"visible\n")
    sink = MemorySink()
    source = make_source(sink, tmp_path)
    await source.start()
    assert await polled(source, sink) == [b"visible"]
    assert source.counters.errors == 1
    await source.stop()


def test_from_settings_keeps_offsets_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, file_inputs=[{"path": "/var/log/*.log", "hint": "syslog"}])
    source = FileTailSource(settings, MemorySink())
    assert source.store.path == tmp_path / "state" / "file_offsets.json" == offsets_path(settings)
    assert source.inputs[0].hint == "syslog" and source.bound_port is None
