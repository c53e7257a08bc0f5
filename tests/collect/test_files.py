"""One-shot reading (`FileReader`, `iter_file_records`): folders, gzip, EVTX, stdin, limits."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest

from guetteur.collect.files import FileReader, expand_paths, iter_file_records

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_folders_are_walked_recursively_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.log").write_bytes(b"a1\na2\n")
    (tmp_path / "b" / "c" / "deep.log").write_bytes(b"deep\n")
    (tmp_path / "b" / "z.txt").write_bytes(b"z\n")
    (tmp_path / ".git" / "config").write_bytes(b"hidden folder\n")
    (tmp_path / ".hidden.log").write_bytes(b"hidden file\n")
    records = list(iter_file_records([tmp_path], "syslog"))
    assert [(r.data, Path(r.peer or "").name) for r in records] == [
        (b"a1", "a.log"),
        (b"a2", "a.log"),
        (b"deep", "deep.log"),  # b/c/deep.log sorts before b/z.txt
        (b"z", "z.txt"),
    ]
    assert {(r.source, r.hint) for r in records} == {("import", "syslog")}
    assert [r.meta for r in records[:2]] == [{"offset": 0}, {"offset": 3}]


def test_an_explicitly_named_hidden_file_is_read(tmp_path: Path) -> None:
    hidden = tmp_path / ".bash_history"
    hidden.write_bytes(b"ls\n")
    assert [r.data for r in iter_file_records([hidden])] == [b"ls"]


def test_gzip_is_decompressed_whatever_its_name_and_progress_reaches_the_total(tmp_path: Path) -> None:
    plain = tmp_path / "auth.log"
    plain.write_bytes(b"plain 1\nplain 2")
    packed = tmp_path / "auth.log.2.gz"
    packed.write_bytes(gzip.compress(b"gz 1\ngz 2\n") + gzip.compress(b"second member\n"))
    disguised = tmp_path / "rotated.1"  # gzip content without the .gz name
    disguised.write_bytes(gzip.compress(b"disguised\n"))
    reader = FileReader([plain, packed, disguised])
    assert reader.total_bytes == sum(p.stat().st_size for p in (plain, packed, disguised))
    assert reader.bytes_read == 0
    assert [r.data for r in reader] == [b"plain 1", b"plain 2", b"gz 1", b"gz 2", b"second member", b"disguised"]
    assert reader.bytes_read == reader.total_bytes
    assert reader.records == 6 and reader.errors == []


def test_progress_moves_while_reading_a_large_file(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(b"".join(b"line %06d\n" % i for i in range(100_000)))
    reader = FileReader([big], read_size=65_536)
    seen = set()
    for count, _record in enumerate(reader):
        if count % 10_000 == 0:
            seen.add(reader.bytes_read)
    assert len(seen) > 5 and max(seen) < reader.total_bytes == reader.bytes_read


def test_damaged_gzip_keeps_what_was_readable_and_reports(tmp_path: Path) -> None:
    payload = b"".join(b"record %05d\n" % i for i in range(20_000))
    packed = gzip.compress(payload)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    after = tmp_path / "zz-after.log"
    after.write_bytes(b"still read\n")
    reader = FileReader([broken, after])
    records = [r.data for r in reader]
    assert records[-1] == b"still read"
    assert 0 < len(records) - 1 < 20_000
    assert records[0] == b"record 00000"
    assert len(reader.errors) == 1 and "broken.gz" in reader.errors[0]


def test_garbage_gzip_header_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gz"
    fake.write_bytes(b"\x1f\x8b" + os.urandom(200))
    reader = FileReader([fake])
    list(reader)
    assert len(reader.errors) == 1


def test_stdin_is_read_with_dash() -> None:
    stdin = io.BytesIO(b"from stdin 1\r\nfrom stdin 2\n\xff\xfe")
    records = list(iter_file_records(["-"], None, stdin=stdin))
    assert [(r.data, r.peer) for r in records] == [
        (b"from stdin 1", "-"),
        (b"from stdin 2", "-"),
        (b"\xff\xfe", "-"),
    ]


def test_long_lines_are_cut_binary_and_crlf_kept_sane(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    garbage = bytes(range(256)).replace(b"\n", b"").replace(b"\r", b"")
    path.write_bytes(b"L" * 5000 + b"\r\n" + garbage + b"\nshort\r\n")
    reader = FileReader([path], max_record_bytes=1024)
    records = list(reader)
    assert records[0].data == b"L" * 1024 and records[0].meta == {"offset": 0, "truncated": True}
    assert records[1].data == garbage and records[1].meta == {"offset": 5002}
    assert records[2].data == b"short"
    assert reader.truncated == 1


def test_huge_line_does_not_grow_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    with open(path, "wb") as handle:
        for _ in range(64):
            handle.write(b"H" * 1_048_576)  # one 64 MB line
        handle.write(b"\nafter\n")
    records = list(FileReader([path], max_record_bytes=4096))
    assert [len(r.data) for r in records] == [4096, 5]


def test_missing_paths_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    present = tmp_path / "here.log"
    present.write_bytes(b"here\n")
    errors: list[str] = []
    assert expand_paths([tmp_path / "nope.log", present], errors) == [str(present)]
    reader = FileReader([tmp_path / "nope.log", present])
    assert [r.data for r in reader] == [b"here"]
    assert reader.errors and "nope.log" in reader.errors[0]


def test_empty_inputs() -> None:
    assert list(iter_file_records([], None)) == []
    assert list(iter_file_records(["-"], None, stdin=io.BytesIO(b""))) == []


def test_evtx_files_are_delegated(tmp_path: Path) -> None:
    pytest.importorskip("guetteur.collect.evtx")
    pytest.importorskip("evtx")
    folder = DATA / "logs" / "windows-evtx" / "deepbluecli"
    if not folder.is_dir():
        pytest.skip("shared EVTX samples absent")
    sample = sorted(folder.glob("*.evtx"))[0]
    reader = FileReader([sample, tmp_path / "missing.log"], "ignored-for-evtx")
    records = list(reader)
    assert records and all(r.source == "import" and (r.hint or "").startswith("windows_evtx") for r in records)
    assert all(isinstance(r.data, str) and r.data.startswith("{") for r in records)
    assert reader.bytes_read == reader.total_bytes == sample.stat().st_size


def test_a_text_file_named_evtx_is_reported_not_fatal(tmp_path: Path) -> None:
    pytest.importorskip("guetteur.collect.evtx")
    pytest.importorskip("evtx")
    fake = tmp_path / "fake.evtx"
    fake.write_bytes(b"this is not an event log\n")
    reader = FileReader([fake])
    assert list(reader) == []
    assert reader.errors


def test_gzip_bomb_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    """64 MB of one line packed into ~64 KB: cut at the limit, never held whole."""
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"A" * 64 * 1_048_576 + b"\nafter\n", compresslevel=1) + b"\x00" * 16)
    reader = FileReader([bomb], max_record_bytes=2048)
    assert [(len(r.data), r.meta) for r in reader] == [
        (2048, {"offset": 0, "truncated": True}),
        (5, {"offset": 64 * 1_048_576 + 1}),
    ]
    assert reader.errors == []  # trailing NUL padding is not damage
